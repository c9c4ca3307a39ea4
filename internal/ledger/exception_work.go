package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/cardmask"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
	"github.com/payrun/payrun/internal/reconcile"
)

// The exception queue's work (migration 0060): a checker assigns an
// exception to someone, comments on it and resolves it with a reason.
// Each action is one writer transaction with its audit entry (action
// "exception"); the ledger checks the acting user's role itself.

// QueueItem is an exception as the queue shows it.
type QueueItem struct {
	Exception
	Assignee   string     `json:"assignee,omitempty"`
	AssignedAt *time.Time `json:"assigned_at,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	Comments   int        `json:"comments"`
}

// ExceptionComment is one comment on an exception.
type ExceptionComment struct {
	ID   int64     `json:"id"`
	User string    `json:"user"`
	Body string    `json:"body"`
	At   time.Time `json:"at"`
}

// ExceptionFilter selects a page of the queue, oldest first (the longest
// waiting at the top).
type ExceptionFilter struct {
	Category reconcile.Category // "" for every category
	Batch    string
	Assignee string // "-" for unassigned ones
	Closed   bool   // resolved ones instead of open ones
	After    int64  // the last exception id of the previous page
	Limit    int
}

const queueColumns = `e.id, e.category, e.batch_id, e.row_no, e.detail, e.opened_at, e.closed_at, e.resolution, e.assignee,
	e.assigned_at, e.resolved_by, (SELECT count(*) FROM exception_comments c WHERE c.exception_id = e.id)`

func scanQueueItem(s scanner) (*QueueItem, error) {
	var q QueueItem
	var row sql.NullInt64
	var opened string
	var closed, assigned sql.NullString
	if err := s.Scan(&q.ID, &q.Category, &q.Batch, &row, &q.Detail, &opened, &closed, &q.Resolution, &q.Assignee, &assigned,
		&q.ResolvedBy, &q.Comments); err != nil {
		return nil, err
	}
	q.Row = int(row.Int64)
	q.OpenedAt, q.ClosedAt, q.AssignedAt = parseTime(opened), scanTime(closed), scanTime(assigned)
	return &q, nil
}

// ExceptionQueue returns a page of exceptions and the id to continue
// after (0 at the end).
func (db *DB) ExceptionQueue(ctx context.Context, f ExceptionFilter) ([]QueueItem, int64, error) {
	limit := pageLimit(f.Limit)
	q := `SELECT ` + queueColumns + ` FROM exceptions e WHERE e.id > ?`
	args := []any{f.After}
	if f.Closed {
		q += ` AND e.closed_at IS NOT NULL`
	} else {
		q += ` AND e.closed_at IS NULL`
	}
	if f.Category != "" {
		q, args = q+` AND e.category = ?`, append(args, string(f.Category))
	}
	if f.Batch != "" {
		q, args = q+` AND e.batch_id = ?`, append(args, f.Batch)
	}
	switch f.Assignee {
	case "":
	case "-":
		q += ` AND e.assignee = ''`
	default:
		q, args = q+` AND e.assignee = ?`, append(args, f.Assignee)
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY e.id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list exceptions: %w", err)
	}
	defer rows.Close()
	var out []QueueItem
	for rows.Next() {
		it, err := scanQueueItem(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list exceptions: %w", err)
		}
		out = append(out, *it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list exceptions: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// ExceptionCounts counts the open exceptions per category.
func (db *DB) ExceptionCounts(ctx context.Context) (map[reconcile.Category]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT category, count(*) FROM exceptions WHERE closed_at IS NULL GROUP BY category`)
	if err != nil {
		return nil, fmt.Errorf("count exceptions: %w", err)
	}
	defer rows.Close()
	out := map[reconcile.Category]int{}
	for rows.Next() {
		var c reconcile.Category
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			return nil, fmt.Errorf("count exceptions: %w", err)
		}
		out[c] = n
	}
	return out, rows.Err()
}

// ExceptionByID returns one exception.
func (db *DB) ExceptionByID(ctx context.Context, id int64) (*QueueItem, error) {
	it, err := scanQueueItem(db.r.QueryRowContext(ctx, `SELECT `+queueColumns+` FROM exceptions e WHERE e.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("exception %d: %w", id, errNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read exception %d: %w", id, err)
	}
	return it, nil
}

// ExceptionComments lists an exception's comments in order.
func (db *DB) ExceptionComments(ctx context.Context, id int64) ([]ExceptionComment, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, user_name, body, at FROM exception_comments WHERE exception_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("read comments of exception %d: %w", id, err)
	}
	defer rows.Close()
	var out []ExceptionComment
	for rows.Next() {
		var c ExceptionComment
		var at string
		if err := rows.Scan(&c.ID, &c.User, &c.Body, &at); err != nil {
			return nil, fmt.Errorf("read comments of exception %d: %w", id, err)
		}
		c.At = parseTime(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// maxExceptionText bounds a comment or a resolution's reason.
const maxExceptionText = 2000

// exceptionText checks and masks what a person wrote.
func exceptionText(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ledgerapi.Errorf(ledgerapi.CodeInvalid, "%s is empty", what)
	}
	if utf8.RuneCountInString(s) > maxExceptionText {
		return "", ledgerapi.Errorf(ledgerapi.CodeInvalid, "%s is longer than %d characters", what, maxExceptionText)
	}
	if err := checkText(what, s); err != nil {
		return "", err
	}
	return cardmask.Redact(s), nil
}

// AssignException gives an open exception to a user ("" takes it back).
func (s *Service) AssignException(ctx context.Context, by auth.Actor, id int64, assignee string) error {
	assignee = strings.TrimSpace(assignee)
	return s.exceptionAction(ctx, by, id, func(tx *Tx, e *auth.Entry) error {
		if assignee == "" {
			e.Detail = "unassigned"
			_, err := tx.Exec(`UPDATE exceptions SET assignee = '', assigned_at = NULL WHERE id = ?`, id)
			return err
		}
		u, err := scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM users WHERE name = ?`, assignee))
		if errors.Is(err, sql.ErrNoRows) || err == nil && u.Disabled {
			return ledgerapi.Errorf(ledgerapi.CodeInvalid, "no user %s to assign the exception to", cardmask.Redact(assignee))
		}
		if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		e.Detail = "assigned to " + u.Name
		_, err = tx.Exec(`UPDATE exceptions SET assignee = ?, assigned_at = ? WHERE id = ?`, u.Name, formatTime(tx.Now), id)
		return err
	})
}

// CommentException adds a comment to an exception (open or resolved).
func (s *Service) CommentException(ctx context.Context, by auth.Actor, id int64, body string) error {
	text, err := exceptionText("the comment", body)
	if err != nil {
		return err
	}
	return s.exceptionAction(ctx, by, id, func(tx *Tx, e *auth.Entry) error {
		e.Detail = "comment: " + text
		_, err := tx.Exec(`INSERT INTO exception_comments (exception_id, user_id, user_name, body, at) VALUES (?, ?, ?, ?, ?)`,
			id, by.UserID, by.Name, text, formatTime(tx.Now))
		return err
	}, true)
}

// ResolveException closes an open exception with the reason a person
// gave.
func (s *Service) ResolveException(ctx context.Context, by auth.Actor, id int64, reason string) error {
	text, err := exceptionText("the reason", reason)
	if err != nil {
		return err
	}
	return s.exceptionAction(ctx, by, id, func(tx *Tx, e *auth.Entry) error {
		e.Detail = "resolved: " + text
		_, err := tx.Exec(`UPDATE exceptions SET closed_at = ?, resolution = ?, resolved_by = ? WHERE id = ? AND closed_at IS NULL`,
			formatTime(tx.Now), "resolved by "+by.Name+": "+text, by.Name, id)
		return err
	})
}

// exceptionAction runs one action on exception id in the writer: the
// acting user must be allowed exception work (checkers), the exception
// must exist (and be open, unless anyState), and the action and its
// audit entry commit together. A refusal is audited too.
func (s *Service) exceptionAction(ctx context.Context, by auth.Actor, id int64, act func(*Tx, *auth.Entry) error, anyState ...bool) error {
	var refusal *ledgerapi.Error
	err := s.w.Do(ctx, func(tx *Tx) error {
		refusal = nil
		e := auth.NewEntry(by, auth.ActException, auth.OutcomeOK)
		e.Target = fmt.Sprintf("exception %d", id)
		err := func() error {
			var batch string
			var closed sql.NullString
			err := tx.QueryRow(`SELECT batch_id, closed_at FROM exceptions WHERE id = ?`, id).Scan(&batch, &closed)
			if errors.Is(err, sql.ErrNoRows) {
				return ledgerapi.Errorf(ledgerapi.CodeNotFound, "exception %d: not found", id)
			}
			if err != nil {
				return fmt.Errorf("read exception %d: %w", id, err)
			}
			e.Batch = batch
			u, err := actorUser(tx, by)
			if err != nil {
				return fmt.Errorf("read user: %w", err)
			}
			if u == nil || u.Disabled || !u.Roles.Can(auth.PermExceptions) {
				return ledgerapi.Errorf(ledgerapi.CodeForbidden, "%s may not work on exceptions: that needs the role checker", by.Name)
			}
			if closed.Valid && len(anyState) == 0 {
				return ledgerapi.Errorf(ledgerapi.CodeConflict, "exception %d is resolved already", id)
			}
			return act(tx, &e)
		}()
		var le *ledgerapi.Error
		if errors.As(err, &le) && le.Code != ledgerapi.CodeInternal {
			refusal = le
			e.Outcome, e.Detail = auth.OutcomeRefused, le.Message
		} else if err != nil {
			return err
		}
		return appendAudit(tx, e)
	})
	if err != nil {
		return s.apiError(err)
	}
	if refusal != nil {
		return refusal
	}
	return nil
}

package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/auth"
	"github.com/payrun/payrun/internal/ledger"
	"github.com/payrun/payrun/internal/ledger/ledgerapi"
)

type usersData struct {
	Users []auth.User
	Roles []auth.Role
}

// usersPage lists people and their roles, with the forms to add one,
// change roles, set a password, disable and enable.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "users", "")
	v.Title = v.L.T("users.title")
	users, err := c.db.Users(r.Context())
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	v.Data = &usersData{Users: users, Roles: auth.AllRoles}
	c.render(w, r, http.StatusOK, "users", v)
}

// formRoles reads the role checkboxes.
func formRoles(r *http.Request) (auth.Roles, error) {
	roles, err := auth.ParseRoles(strings.Join(r.PostForm["roles"], ","))
	if err != nil {
		return nil, ledgerapi.Errorf(ledgerapi.CodeInvalid, "%v", err)
	}
	return roles, nil
}

func (c *Console) addUser(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "users", "")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	roles, err := formRoles(r)
	if err == nil {
		_, err = c.svc.AddUser(r.Context(), actor(r), ledger.NewUser{Name: strings.TrimSpace(r.PostFormValue("name")), Roles: roles,
			Password: r.PostFormValue("password")})
	}
	if err != nil {
		v.Title = v.L.T("users.title")
		c.fail(w, r, v, err)
		return
	}
	back(w, r, "/console/admin/users", "user_added")
}

func (c *Console) userAction(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "users", "")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	name, by := r.PathValue("name"), actor(r)
	var err error
	action := r.PathValue("action")
	switch action {
	case "disable", "enable":
		err = c.svc.DisableUser(r.Context(), by, name, action == "disable")
	case "roles":
		var roles auth.Roles
		if roles, err = formRoles(r); err == nil {
			err = c.svc.SetRoles(r.Context(), by, name, roles)
		}
	case "password":
		err = c.svc.SetPassword(r.Context(), by, name, r.PostFormValue("password"))
	default:
		err = ledgerapi.Errorf(ledgerapi.CodeNotFound, "no such action %q", action)
	}
	if err != nil {
		v.Title = v.L.T("users.title")
		c.fail(w, r, v, err)
		return
	}
	back(w, r, "/console/admin/users", "user_"+action)
}

type tokensData struct {
	Tokens  []auth.Token
	Users   []string
	Roles   []auth.Role
	Created *ledger.CreatedToken // shown once, on the page that made it
}

func (c *Console) tokensData(r *http.Request) (*tokensData, error) {
	tokens, err := c.db.Tokens(r.Context(), "", false)
	if err != nil {
		return nil, err
	}
	users, err := c.db.Users(r.Context())
	if err != nil {
		return nil, err
	}
	d := &tokensData{Tokens: tokens, Roles: auth.AllRoles}
	for _, u := range users {
		if !u.Disabled {
			d.Users = append(d.Users, u.Name)
		}
	}
	return d, nil
}

// tokensPage lists the live API tokens, with the forms to create one
// (its text is shown once) and to revoke one.
func (c *Console) tokensPage(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "tokens", "")
	v.Title = v.L.T("tokens.title")
	d, err := c.tokensData(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "tokens", v)
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "tokens", "")
	v.Title = v.L.T("tokens.title")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	roles, err := formRoles(r)
	var text string
	var info *auth.Token
	if err == nil {
		text, info, err = c.svc.CreateToken(r.Context(), actor(r), ledger.NewToken{User: r.PostFormValue("user"),
			Name: r.PostFormValue("name"), Roles: roles})
	}
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d, err := c.tokensData(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	// The answer to the post itself shows the token: no redirect, so it is
	// in no URL and no history entry, and never shown again.
	d.Created = &ledger.CreatedToken{Token: text, Info: info}
	v.Data, v.Notice = d, "done.token_created"
	c.render(w, r, http.StatusCreated, "tokens", v)
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "tokens", "")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err == nil {
		err = c.svc.RevokeToken(r.Context(), actor(r), id)
	} else {
		err = ledgerapi.Errorf(ledgerapi.CodeNotFound, "no token %q", r.PathValue("id"))
	}
	if err != nil {
		v.Title = v.L.T("tokens.title")
		c.fail(w, r, v, err)
		return
	}
	back(w, r, "/console/admin/tokens", "token_revoked")
}

type policyData struct {
	Policy   auth.Policy
	JSON     string // what the editor shows: the policy in force, or what was posted
	Versions []auth.Policy
}

func (c *Console) policyData(r *http.Request) (*policyData, error) {
	p, err := c.db.Policy(r.Context())
	if err != nil {
		return nil, err
	}
	versions, err := c.db.Policies(r.Context())
	if err != nil {
		return nil, err
	}
	return &policyData{Policy: p, JSON: policyJSON(p), Versions: versions}, nil
}

// policyJSON is the policy as the editor shows it: its rules only.
func policyJSON(p auth.Policy) string {
	p.Version, p.CreatedAt, p.CreatedBy = 0, time.Time{}, ""
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(p)
	return strings.TrimSpace(buf.String())
}

// policyPage shows the policy in force as JSON to edit, and its versions.
func (c *Console) policyPage(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "policy", "")
	v.Title = v.L.T("policy.title")
	d, err := c.policyData(r)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "policy", v)
}

// setPolicy saves the edited JSON as a new version (refused with the
// parser's reason, shown above the text as typed).
func (c *Console) setPolicy(w http.ResponseWriter, r *http.Request) {
	v := c.newView(w, r, "policy", "")
	v.Title = v.L.T("policy.title")
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, v, err)
		return
	}
	text := r.PostFormValue("policy")
	p, err := auth.ParsePolicy([]byte(text))
	if err != nil {
		err = ledgerapi.Errorf(ledgerapi.CodeInvalid, "%v", err)
	} else {
		_, err = c.svc.SetPolicy(r.Context(), actor(r), p)
	}
	if err != nil {
		d, derr := c.policyData(r)
		if derr != nil {
			c.fail(w, r, v, err)
			return
		}
		d.JSON, v.Data, v.Err = text, d, errorFor(err)
		c.render(w, r, statusOf(err), "policy", v)
		return
	}
	back(w, r, "/console/admin/policy", "policy_saved")
}

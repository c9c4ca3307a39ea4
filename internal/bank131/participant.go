package bank131

import "encoding/json"

// ParticipantDetails names the sender and the recipient of a payout.
type ParticipantDetails struct {
	Sender    *Participant `json:"sender,omitempty"`
	Recipient *Participant `json:"recipient,omitempty"`
}

// Participant is a sender or recipient. Only the fields payrun sends or
// reads are typed; unknown fields in responses are ignored.
type Participant struct {
	FullName               string            `json:"full_name,omitempty"`
	FirstName              string            `json:"first_name,omitempty"`
	LastName               string            `json:"last_name,omitempty"`
	MiddleName             string            `json:"middle_name,omitempty"`
	Reference              string            `json:"reference,omitempty"`
	TaxReference           string            `json:"tax_reference,omitempty"`
	BeneficiaryID          string            `json:"beneficiary_id,omitempty"`
	CountryISO3            string            `json:"country_iso3,omitempty"`
	CitizenshipCountryISO3 string            `json:"citizenship_country_iso3,omitempty"`
	City                   string            `json:"city,omitempty"`
	PostalCode             string            `json:"postal_code,omitempty"`
	State                  string            `json:"state,omitempty"`
	Street                 string            `json:"street,omitempty"`
	Building               string            `json:"building,omitempty"`
	Flat                   string            `json:"flat,omitempty"`
	Account                string            `json:"account,omitempty"`
	Currency               string            `json:"currency,omitempty"`
	Description            string            `json:"description,omitempty"`
	DateOfBirth            string            `json:"date_of_birth,omitempty"` // YYYY-MM-DD
	Address                *Address          `json:"address,omitempty"`
	Contacts               *Contacts         `json:"contacts,omitempty"`
	IdentityDocument       *IdentityDocument `json:"identity_document,omitempty"`
	DocumentsForeigner     *IdentityDocument `json:"documents_foreigner,omitempty"`
	ServicePoint           json.RawMessage   `json:"service_point,omitempty"`
	SourceOfMoney          json.RawMessage   `json:"source_of_money,omitempty"` // a string in examples
}

// Address holds a structured address (cross-border senders).
type Address struct {
	StructuredAddress *StructuredAddress `json:"structured_address,omitempty"`
}

// StructuredAddress is an address split into parts.
type StructuredAddress struct {
	CountryISO3 string `json:"country_iso3,omitempty"`
	PostalCode  string `json:"postal_code,omitempty"`
	State       string `json:"state,omitempty"`
	City        string `json:"city,omitempty"`
	Street      string `json:"street,omitempty"`
	Building    string `json:"building,omitempty"`
	Flat        string `json:"flat,omitempty"`
}

// Contacts are a participant's e-mail and phone.
type Contacts struct {
	Email string `json:"email,omitempty"`
	Phone *Phone `json:"phone,omitempty"`
}

// Phone is a phone number, whole and split.
type Phone struct {
	FullNumber   string `json:"full_number,omitempty"`
	CountryISO3  string `json:"country_iso3,omitempty"`
	OperatorCode string `json:"operator_code,omitempty"`
	ShortNumber  string `json:"short_number,omitempty"`
}

// IdentityDocument is a passport or another identity document.
type IdentityDocument struct {
	IDType           string `json:"id_type,omitempty"`
	IDNumber         string `json:"id_number,omitempty"`
	IssueDate        string `json:"issue_date,omitempty"`
	IDExpirationDate string `json:"id_expiration_date,omitempty"`
	DivisionCode     string `json:"division_code,omitempty"`
	IssuedBy         string `json:"issued_by,omitempty"`
}

// Customer is the partner's own reference for the recipient.
type Customer struct {
	Reference string    `json:"reference,omitempty"`
	Contacts  []Contact `json:"contacts,omitempty"`
}

// Contact is one customer contact.
type Contact struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// SourceOfMoney is where a cross-border sender's money comes from.
type SourceOfMoney struct {
	Source      string `json:"source"`
	Description string `json:"description,omitempty"`
}

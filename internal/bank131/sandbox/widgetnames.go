package sandbox

// The tokenization widget stand-in's names. ASSUMPTIONS: the bank's page for
// the card widget ("Widget to get card details") is not in any source we
// have; seed 000 says only "access our JavaScript library and add the
// tokenization widget to the page … initialize the widget using the token
// you have obtained" and that it returns encrypted (hashed) card data. The
// names below follow the pattern of the bank's self-employed widget page
// (self-employed.js, window.Bank131SelfEmployed, new …({publicToken}) and
// render(), a container div "bank131-self-employed", the result posted to
// the page with window.postMessage). They live in this one file so they can
// be switched when the card widget's page is obtained.
const (
	// WidgetScriptPath serves the widget script (the bank's would be
	// https://widget.bank131.ru/…).
	WidgetScriptPath = "/sandbox/widget/tokenization.js"
	// WidgetConstructor is the script's global: new
	// window[WidgetConstructor]({publicToken, container?}).render().
	WidgetConstructor = "Bank131Tokenization"
	// WidgetContainerID is the element the widget renders into when no
	// container option is given.
	WidgetContainerID = "bank131-tokenization"
	// WidgetMessageType is the type of the message posted to the page:
	// {type, status:"success", encrypted_card:{number_hash,
	// expiration_date_hash, cardholder_name_hash, security_code_hash}} or
	// {type, status:"error", error:{code, description}}.
	WidgetMessageType = "bank131_tokenization"

	// widgetFormPath is the card form inside the widget's iframe, on the
	// sandbox's origin, so the card number never reaches the partner's page.
	widgetFormPath = "/sandbox/widget/form"
	// widgetTokenizePath is where the form sends the card.
	widgetTokenizePath = "/sandbox/widget/tokenize"
)

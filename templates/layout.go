package templates

import _ "embed" // for ShippedLayout

// ShippedLayout is the email layout Tidings ships, _layouts/email.html as
// it is in this repository: for a program that renders realistic email
// without a templates folder of its own (`tidings bench --smtp`).
//
//go:embed _layouts/email.html
var ShippedLayout string

package email_test

import (
	"fmt"
	"net/mail"

	"github.com/tidings/tidings/channels/email"
)

// A Config prints and logs its password and DKIM key as "<secret>".
func ExampleConfig_String() {
	cfg := email.Config{
		Host:     "smtp.example.com",
		Port:     587,
		TLS:      email.StartTLS,
		Username: "mailer",
		Password: "hunter2",
		From:     mail.Address{Name: "Tidings Shop", Address: "news@shop.example"},
		DKIM:     &email.DKIM{Domain: "shop.example", Selector: "s1", PrivateKeyPEM: []byte("-----BEGIN PRIVATE KEY-----…")},
	}
	fmt.Println(cfg)
	// Output:
	// email.Config{Host:smtp.example.com Port:587 TLS:starttls Username:mailer Password:<secret> From:"Tidings Shop" <news@shop.example> ReplyTo: Timeout:0s HelloName: DKIM:email.DKIM{Domain:shop.example Selector:s1 PrivateKeyPEM:<secret>} InsecureSkipVerify:false MaxPerConnection:0 MaxConnections:0}
}

package delivery_test

import "net/mail"

func mailAddress() mail.Address { return mail.Address{Name: "Test Tea", Address: "hello@tea.example"} }

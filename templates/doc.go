// Package templates renders campaign messages from the template files
// marketers edit, and holds those files: one folder per template, named by a
// campaign's template key (templates/birthday-gift/...).
//
// # Files
//
// A template folder holds, each optionally per locale:
//
//	sms.txt               SMS body (text/template)
//	email.subject.txt     email subject (text/template; one line)
//	email.txt             plain-text email body (text/template; required for email)
//	email.html            HTML email body (html/template; optional)
//
// A locale variant puts the locale before the extension: sms.zh.txt,
// email.subject.zh-CN.txt, email.en.html. Any other file name is an error,
// so a misspelt file (emial.txt, sms.txt.bak) is caught at load instead of
// being silently ignored; only hidden files (.DS_Store) are skipped. Folders
// whose names start with "_" or "." and the folder testdata (the Go tests'
// fixtures live beside the templates) are not templates.
//
// For a customer locale each part falls back on its own, case-insensitively:
// zh-Hant-TW, then zh-Hant, then zh, then the default file without a locale.
// So a folder may translate the SMS but share one HTML body.
//
// HTML bodies are rendered inside the shared layout _layouts/email.html when
// it exists. The layout calls {{template "content" .}} where the body goes,
// and may declare blocks a body overrides for its language: the sample
// layout has "lang", "footer" and "unsubscribe", which the Chinese bodies
// redefine ({{define "unsubscribe"}}退订{{end}}). Each body gets its own copy
// of the layout, so one body's definitions never leak into another's.
//
// # Data
//
// Every template sees a [Data] as its dot: the customer, the campaign, the
// brand, the gift coupon, the send time and the unsubscribe link. Helpers are
// methods, so they need no function map:
//
//	{{.FirstName}}              王小明 / Emily
//	{{.LocalDate}}              2027年2月6日 / 6 February 2027
//	{{.Money 1280 "CNY"}}       ¥1,280 / CN¥1,280
//	{{.CouponValue}}            ¥50
//	{{.CouponValidUntil}}       2027年3月7日
//	{{.Attr "city" "your city"}}
//	{{.UnsubscribeURL}}
//
// Templates run with missingkey=error: a misspelt field, a missing map key
// or a coupon in a campaign without a gift is an error, never "<no value>"
// sent to a customer.
//
// # Loading, checking, rendering
//
// [Load] parses every folder once and reports every error of every file at
// once, each an [Error] at its file, line and column, as the configuration's
// errors are. [LoadPartial] also returns what did parse, so that validate
// renders the rest. [Set.Check] renders every variant with [SampleData], as
// the validate command does before a campaign may run.
// [Set.Render] only executes the parsed templates, is safe for concurrent
// use, and rejects what must not be sent: an empty SMS or subject, and a
// subject with a line break (header injection through customer data).
// HTML parts are auto-escaped by html/template; text parts are not.
package templates

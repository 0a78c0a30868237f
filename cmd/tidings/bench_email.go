package main

// The email of `bench --smtp`: a product mailer as marketers write them,
// in the layout Tidings ships (templates.ShippedLayout), a table of
// products, an offer and a button, and its plain-text twin. With the headers the email channel adds
// and quoted-printable encoding it is about 7.6 KB on the wire, the size
// of a typical marketing email without images inline; the bench prints the
// size the sink received.

const benchHTML = `<h1 style="margin:0 0 16px; font-size:24px; font-weight:normal; color:#3f6b4f;">The spring tea collection has arrived</h1>
<p style="margin:0 0 16px;">{{with .FirstName}}Dear {{.}}, the{{else}}The{{end}} first teas of spring have arrived at {{.Brand}}. Picked before Qingming, when the buds are at their most tender, this year's harvest is sweet, fresh and in short supply.</p>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="margin:24px 0; border-collapse:collapse;">
<tr>
<td style="padding:14px 0; border-top:1px solid #e6e1d6;"><strong>Pre-Qingming West Lake Longjing</strong>, 100&nbsp;g<br><span style="font-size:14px; color:#7a7468;">Flat jade leaves with a chestnut sweetness, from the hills around Hangzhou. Pan-fired by hand the day they are picked.</span></td>
<td align="right" valign="top" style="padding:14px 0 14px 12px; border-top:1px solid #e6e1d6; white-space:nowrap; font-weight:bold; color:#3f6b4f;">{{.Money 368 "CNY"}}</td>
</tr>
<tr>
<td style="padding:14px 0; border-top:1px solid #e6e1d6;"><strong>Dongting Biluochun</strong>, 100&nbsp;g<br><span style="font-size:14px; color:#7a7468;">Tightly curled and downy, with a bright, fruity fragrance from the orchards of Lake Tai.</span></td>
<td align="right" valign="top" style="padding:14px 0 14px 12px; border-top:1px solid #e6e1d6; white-space:nowrap; font-weight:bold; color:#3f6b4f;">{{.Money 258 "CNY"}}</td>
</tr>
<tr>
<td style="padding:14px 0; border-top:1px solid #e6e1d6;"><strong>Anji White Tea</strong>, 100&nbsp;g<br><span style="font-size:14px; color:#7a7468;">Pale, delicate and brothy; lovely cold-brewed on a warm afternoon.</span></td>
<td align="right" valign="top" style="padding:14px 0 14px 12px; border-top:1px solid #e6e1d6; white-space:nowrap; font-weight:bold; color:#3f6b4f;">{{.Money 198 "CNY"}}</td>
</tr>
<tr>
<td style="padding:14px 0; border-top:1px solid #e6e1d6; border-bottom:1px solid #e6e1d6;"><strong>Spring Gift Box</strong><br><span style="font-size:14px; color:#7a7468;">All three teas with a celadon tea set, wrapped by hand.</span></td>
<td align="right" valign="top" style="padding:14px 0 14px 12px; border-top:1px solid #e6e1d6; border-bottom:1px solid #e6e1d6; white-space:nowrap; font-weight:bold; color:#3f6b4f;">{{.Money 1280 "CNY"}}</td>
</tr>
</table>
<h2 style="margin:0 0 12px; font-size:18px; font-weight:normal; color:#3f6b4f;">How to brew them</h2>
<p style="margin:0 0 16px;">Green teas this young want water well off the boil, around 80&nbsp;°C, and a glass or a gaiwan so you can watch the leaves unfurl. Use three grams for a 150&nbsp;ml cup and pour the first infusion after a minute; each leaf gives three or four good cups, the later ones a little toastier.</p>
<p style="margin:0 0 24px;">Members get {{.Money 30 "CNY"}} off every order over {{.Money 299 "CNY"}} until the collection sells out, and delivery is free in every city we serve. Orders placed before noon leave our warehouse the same day, packed in a tin that keeps the leaves fresh.</p>
<p style="margin:0 0 24px; text-align:center;"><a href="https://shop.example.com/spring" style="display:inline-block; padding:12px 28px; background-color:#3f6b4f; border-radius:6px; color:#ffffff; text-decoration:none; font-weight:bold;">Shop the collection</a></p>
<p style="margin:0;">Warm regards,<br>The {{.Brand}} team</p>
`

const benchText = `{{with .FirstName}}Dear {{.}},{{else}}Hello,{{end}}

The first teas of spring have arrived at {{.Brand}}. Picked before Qingming, when the buds are at their most tender, this year's harvest is sweet, fresh and in short supply.

THE SPRING COLLECTION

* Pre-Qingming West Lake Longjing, 100 g: {{.Money 368 "CNY"}}
  Flat jade leaves with a chestnut sweetness, from the hills around Hangzhou.
  Pan-fired by hand the day they are picked.

* Dongting Biluochun, 100 g: {{.Money 258 "CNY"}}
  Tightly curled and downy, with a bright, fruity fragrance from the orchards of Lake Tai.

* Anji White Tea, 100 g: {{.Money 198 "CNY"}}
  Pale, delicate and brothy; lovely cold-brewed on a warm afternoon.

* Spring Gift Box: all three teas with a celadon tea set, wrapped by hand: {{.Money 1280 "CNY"}}

HOW TO BREW THEM

Green teas this young want water well off the boil, around 80 °C, and a glass or a gaiwan so you can watch the leaves unfurl. Use three grams for a 150 ml cup and pour the first infusion after a minute; each leaf gives three or four good cups, the later ones a little toastier.

Members get {{.Money 30 "CNY"}} off every order over {{.Money 299 "CNY"}} until the collection sells out, and delivery is free in every city we serve. Orders placed before noon leave our warehouse the same day, packed in a tin that keeps the leaves fresh.

Shop the collection: https://shop.example.com/spring

Warm regards,
The {{.Brand}} team

--
You are receiving this email as a member of {{.Brand}}.
Unsubscribe: {{.UnsubscribeURL}}
`

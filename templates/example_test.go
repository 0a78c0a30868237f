package templates_test

import (
	"fmt"
	"log"

	"github.com/tidings/tidings/templates"
)

func ExampleSet_Render() {
	set, err := templates.Load(".")
	if err != nil {
		log.Fatal(err)
	}
	for _, locale := range []string{"zh-CN", "en-US"} {
		m, err := set.Render("birthday-gift", "sms", locale, templates.SampleData(locale, true))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(m.Body)
	}
	// Output:
	// 【Tidings Tea】王小明，生日快乐！送您¥50生日礼券，券码BDAY-7QK2M9，有效期至2027年3月7日。回T退订
	// Tidings Tea: Happy birthday, Emily! Here is a CN¥50 gift coupon for you: BDAY-7QK2M9, valid until 7 March 2027. Reply STOP to opt out
}

func ExampleSet_Check() {
	set, err := templates.Load(".")
	if err != nil {
		log.Fatal(err)
	}
	// The birthday template shows a coupon: a campaign without a gift
	// cannot use it.
	for _, err := range set.Check("birthday-gift", []string{"sms"}, false) {
		fmt.Println(err)
	}
	// Output:
	// birthday-gift/sms.txt:1:74: {{.CouponValue}}: error calling CouponValue: no coupon: the campaign has no gift
	// birthday-gift/sms.zh.txt:1:54: {{.CouponValue}}: error calling CouponValue: no coupon: the campaign has no gift
}

func ExampleData_Money() {
	zh := templates.Data{Customer: templates.Customer{Locale: "zh-CN"}}
	en := templates.Data{Customer: templates.Customer{Locale: "en-GB"}}
	fmt.Println(zh.Money(12800, "CNY"), en.Money(12800, "CNY"), en.Money(19.9, "GBP"), en.Money(50, "CHF"))
	// Output: ¥12,800 CN¥12,800 £19.90 50.00 CHF
}

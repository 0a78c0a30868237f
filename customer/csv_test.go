package customer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var cn = Normalizer{DefaultRegion: "CN"}

// readAll reads every row of in, returning the good customers and the text
// of every row error. Any other error fails the test.
func readAll(t *testing.T, in io.Reader) ([]Customer, []string) {
	t.Helper()
	return readAllWith(t, in, cn)
}

func readAllWith(t *testing.T, in io.Reader, n Normalizer) ([]Customer, []string) {
	t.Helper()
	r, err := NewCSVReader(in, n)
	if err != nil {
		t.Fatalf("NewCSVReader: %v", err)
	}
	var cs []Customer
	var rowErrs []string
	for {
		c, err := r.Next()
		if errors.Is(err, io.EOF) {
			return cs, rowErrs
		}
		if re, ok := errors.AsType[*RowError](err); ok {
			rowErrs = append(rowErrs, re.Error())
			continue
		}
		if err != nil {
			t.Fatalf("Next: fatal error %v", err)
		}
		cs = append(cs, c)
	}
}

func TestCSVReaderAllColumns(t *testing.T) {
	t.Parallel()
	// Headers in the spellings spreadsheets produce, each with its value.
	cols := [][2]string{
		{"External-ID", "C0000001"},
		{" NAME ", " 王伟 "},
		{"Email", "Wang.Wei@Mail.Example.CN"},
		{"Mobile", "138 1234 5678"},
		{"Locale", "zh_cn"},
		{"Time Zone", "Asia/Shanghai"},
		{"Birthday", "--02-29"},
		{"Tier", "黄金"},
		{"Tags", `"VIP; wechat|vip,,tea-lover"`},
		{"Email Consent", "是"},
		{"email-consent-at", "2024-03-01T08:00:00+08:00"},
		{"SMS_Consent", "no"},
		{"sms consent at", "2024-03-02"},
		{"Created At", "2021-06-01 12:30:00"},
		{"Last Purchase At", "2025-12-31T23:59:59Z"},
		{"Purchase Count", "42"},
		{"Total Spent", "12345.60"},
		{"Attr.City", "上海"},
		{"ATTRIBUTES.member_level", "5"},
		{"attributes.Score", "-4.5"},
		{"attr.vip", "TRUE"},
		{"attr.zip", "02134"},
		{"attr.huge", "123456789012345678901234"},
		{"attr.note", "5 stars"},
		{"attr.empty", ""},
	}
	var header, row []string
	for _, c := range cols {
		header = append(header, c[0])
		row = append(row, c[1])
	}
	in := strings.Join(header, ",") + "\n" + strings.Join(row, ",") + "\n"

	cs, errs := readAll(t, strings.NewReader(in))
	if len(errs) > 0 {
		t.Fatalf("row errors: %q", errs)
	}
	want := []Customer{{
		ExternalID: "C0000001",
		Name:       "王伟",
		Email:      "Wang.Wei@mail.example.cn",
		Phone:      "+8613812345678",
		Locale:     "zh-CN",
		TimeZone:   "Asia/Shanghai",
		Birthday:   Birthday{Month: time.February, Day: 29},
		Tier:       TierGold,
		Tags:       []string{"vip", "wechat", "tea-lover"},
		Attributes: map[string]any{
			"City":         "上海",
			"member_level": int64(5),
			"Score":        -4.5,
			"vip":          true,
			"zip":          "02134",
			"huge":         "123456789012345678901234",
			"note":         "5 stars",
		},
		EmailConsent:  Consent{Granted: true, At: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		SMSConsent:    Consent{Granted: false, At: time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)},
		CreatedAt:     time.Date(2021, 6, 1, 12, 30, 0, 0, time.UTC),
		LastPurchase:  time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC),
		PurchaseCount: 42,
		TotalSpent:    12345.60,
	}}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cs, want)
	}
}

func TestCSVReaderAliases(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"id,tz", "ID,time_zone", "external_id,TimeZone", "External ID,Time-Zone"} {
		cs, errs := readAll(t, strings.NewReader(h+"\nC1,Pacific/Kiritimati\n"))
		want := []Customer{{ExternalID: "C1", TimeZone: "Pacific/Kiritimati"}}
		if len(errs) > 0 || !reflect.DeepEqual(cs, want) {
			t.Errorf("header %q: got %+v, %q; want %+v", h, cs, errs, want)
		}
	}
}

func TestCSVReaderBOMBeforeQuotedHeader(t *testing.T) {
	t.Parallel()
	cs, errs := readAll(t, strings.NewReader("\uFEFF\"External ID\",\"Name\"\r\nC1,Li\r\n"))
	want := []Customer{{ExternalID: "C1", Name: "Li"}}
	if len(errs) > 0 || !reflect.DeepEqual(cs, want) {
		t.Errorf("got %+v, %q; want %+v", cs, errs, want)
	}
}

// TestCSVReaderExcelExport reads a file as Excel saves "CSV UTF-8": a byte
// order mark, CRLF line ends and trailing rows of empty fields.
func TestCSVReaderExcelExport(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/excel-export.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewCSVReader(f, cn)
	if err != nil {
		t.Fatal(err)
	}
	var cs []Customer
	var errs []string
	for {
		c, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		cs = append(cs, c)
	}
	if r.BytesRead() != fi.Size() {
		t.Errorf("BytesRead() = %d at the end, want the file size %d", r.BytesRead(), fi.Size())
	}
	if len(errs) > 0 {
		t.Fatalf("row errors: %q", errs)
	}
	want := []Customer{
		{
			ExternalID: "C0000001", Name: "王伟", Email: "wang.wei@mail.example.cn",
			Phone: "+8613812345678", TimeZone: "Asia/Shanghai",
			Birthday: Birthday{1988, time.February, 29}, Tier: TierGold,
			Tags: []string{"vip", "wechat"}, Attributes: map[string]any{"City": "上海"},
			EmailConsent: Consent{Granted: true},
		},
		{
			ExternalID: "C0000002", Name: "Olivia Smith", Email: "olivia@example.com",
			Phone: "+447400123456", TimeZone: "Europe/London",
			Birthday: Birthday{0, time.December, 25}, Tier: TierGeneral,
			Tags: []string{"newsletter"}, Attributes: map[string]any{"City": "London"},
			EmailConsent: Consent{Granted: true},
		},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cs, want)
	}
}

func TestNewCSVReaderHeaderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty file", "", "empty file: no header row"},
		{"only blank lines", "\n\n", "empty file: no header row"},
		{
			"typo",
			"external_id,emial\n",
			`line 1: unknown column "emial"; did you mean "email"? (to import it as an attribute, name the column attributes.emial)`,
		},
		{
			"typo in an alias",
			"external_id,moblie\n",
			`line 1: unknown column "moblie"; did you mean "mobile"? (to import it as an attribute, name the column attributes.moblie)`,
		},
		{
			"no near miss",
			"external_id,Shoe Size\n",
			`line 1: unknown column "Shoe Size" (to import it as an attribute, name the column attributes.shoe_size)`,
		},
		{
			"two letters are not a typo of id",
			"external_id,no\n",
			`line 1: unknown column "no" (to import it as an attribute, name the column attributes.no)`,
		},
		{
			"no valid attribute name",
			"external_id,城市\n",
			`line 1: unknown column "城市" (to import it as an attribute, name the column attributes.<name>)`,
		},
		{
			"misspelt attribute prefix",
			"external_id,atributes.city\n",
			`line 1: unknown column "atributes.city"; did you mean "attributes.city"?`,
		},
		{
			"bad attribute name",
			"external_id,attributes.favorite color\n",
			`line 1: column "attributes.favorite color": attribute name must be letters, digits, _ or -`,
		},
		{
			"empty attribute name",
			"external_id,attr.\n",
			`line 1: column "attr.": attribute name must be letters, digits, _ or -`,
		},
		{"duplicate", "external_id,email,Email\n", `line 1: duplicate column "Email" (same as "email")`},
		{"duplicate alias", "id,External ID\n", `line 1: duplicate column "External ID" (same as "id")`},
		{"duplicate attribute", "id,attr.city,attributes.city\n", `line 1: duplicate column "attributes.city" (same as "attr.city")`},
		{"missing external_id", "name,email\n", "line 1: missing column external_id (or id)"},
		{"unnamed column", "external_id,,name\n", "line 1: column 2 has no name"},
		{"header after blank lines", "\n\nid,nmae\n", `line 3: unknown column "nmae"; did you mean "name"? (to import it as an attribute, name the column attributes.nmae)`},
		{"bad quote in header", "id,\"name\"x\n", `read header: line 1: missing or stray " in a quoted field (byte 9)`},
		{
			"every problem at once",
			"nmae,phone,Mobile,Shoe Size\n",
			`line 1: unknown column "nmae"; did you mean "name"? (to import it as an attribute, name the column attributes.nmae)` + "\n" +
				`line 1: duplicate column "Mobile" (same as "phone")` + "\n" +
				`line 1: unknown column "Shoe Size" (to import it as an attribute, name the column attributes.shoe_size)` + "\n" +
				`line 1: missing column external_id (or id)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewCSVReader(strings.NewReader(tt.in), cn)
			if errText(err) != tt.want {
				t.Errorf("got error\n%s\nwant\n%s", errText(err), tt.want)
			}
		})
	}
}

func TestCSVReaderBadRows(t *testing.T) {
	t.Parallel()
	in := `external_id,name,email,phone,birthday,tier,tags
C1,Good,li@example.com,13812345678,,,
C2,Bad Phone,,12345,,,
C3,Too Few,,
,No ID,a@example.com,,,,
C5,Display Name,Li <li@example.com>,,,,
C6,Two Bad Fields,bad,bad,,,
,,,,,,
C7,Bare Quote,li"@example.com,,,,
C8,Not Leap,,,1999-02-29,,
C9,Bad Tier,,,,platinum,
C10,Bad Tag,,,,,vip;Sale!

C11,Last,,,,,
C12,Too Many,,,,,,
`
	cs, errs := readAll(t, strings.NewReader(in))
	wantErrs := []string{
		`line 3: phone "12345": not a valid phone number for region CN`,
		`line 4: wrong number of fields: 4, want 7`,
		`line 5: external_id: required`,
		`line 6: email "Li <li@example.com>": not a valid email address`,
		`line 7: email "bad": not a valid email address`,
		`line 9: bare " in a field that does not start with " (byte 17)`,
		`line 10: birthday "1999-02-29": no such date: 1999-02-29`,
		`line 11: tier "platinum": unknown tier (use gold, key, quality, general, restricted or eliminated, or 黄金, 重点, 优质, 一般, 限制 or 淘汰)`,
		`line 12: tags "vip;Sale!": bad tag "sale!" (use a-z, 0-9, and _ . : - after the first character)`,
		`line 15: wrong number of fields: 8, want 7`,
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("row errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ExternalID)
	}
	if want := []string{"C1", "C11"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("good rows %q, want %q", ids, want)
	}
}

func TestCSVReaderFieldErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		column, value, want string
	}{
		{"name", "\"Li\nWei\"", `line 2: name "Li\nWei": contains a line break or control character`},
		{"external_id", "\"C1\x07\"", `line 2: external_id "C1\a": contains a control character`},
		{"locale", "chinese", `line 2: locale "chinese": not a locale (use a language tag such as zh-CN or en-US)`},
		{"tz", "Beijing", `line 2: tz "Beijing": unknown time zone (use an IANA name such as Asia/Shanghai)`},
		{"sms_consent", "maybe", `line 2: sms_consent "maybe": not a yes/no value (use yes or no, true or false, 1 or 0)`},
		{"created_at", "01/02/2024", `line 2: created_at "01/02/2024": not a timestamp (use RFC 3339, YYYY-MM-DD HH:MM:SS in UTC, or YYYY-MM-DD)`},
		{"purchase_count", "-1", `line 2: purchase_count "-1": not a count (use a whole number, 0 or more)`},
		{"purchase_count", "1.5", `line 2: purchase_count "1.5": not a count (use a whole number, 0 or more)`},
		{"total_spent", `"1,234.50"`, `line 2: total_spent "1,234.50": not an amount (use digits with an optional decimal point, such as 1234.50)`},
		{"total_spent", "NaN", `line 2: total_spent "NaN": not an amount (use digits with an optional decimal point, such as 1234.50)`},
		{"total_spent", "1e6", `line 2: total_spent "1e6": not an amount (use digits with an optional decimal point, such as 1234.50)`},
	}
	for _, tt := range tests {
		in := "id," + tt.column + "\nC1," + tt.value + "\n"
		if tt.column == "external_id" {
			in = "external_id\n" + tt.value + "\n"
		}
		_, errs := readAll(t, strings.NewReader(in))
		if len(errs) != 1 || errs[0] != tt.want {
			t.Errorf("%s %s: row errors %q, want %q", tt.column, tt.value, errs, tt.want)
		}
	}
}

// TestCSVReaderMultilineField checks that a quoted field with line breaks
// shifts the line numbers of later rows, and that an error is reported on
// the line where the bad field starts.
func TestCSVReaderMultilineField(t *testing.T) {
	t.Parallel()
	in := "external_id,attributes.address,phone\n" + // line 1
		"C1,\"1 Main St\nApt 2\nSpringfield\",13812345678\n" + // lines 2-4
		"C2,\"Room 5\n88 Nanjing Rd\",12345\n" + // lines 5-6, phone on 6
		"C3,\"\",1,extra\n" + // line 7
		"C4,\"x\",13912345678\n" // line 8
	cs, errs := readAll(t, strings.NewReader(in))
	wantErrs := []string{
		`line 6: phone "12345": not a valid phone number for region CN`,
		`line 7: wrong number of fields: 4, want 3`,
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("row errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
	if len(cs) != 2 || cs[0].Attributes["address"] != "1 Main St\nApt 2\nSpringfield" || cs[1].ExternalID != "C4" {
		t.Errorf("customers %+v", cs)
	}
}

// TestCSVReaderQuoteErrors checks that a quoting error costs only the row
// it is on: reading resumes on the next line, even after a quote that is
// never closed.
func TestCSVReaderQuoteErrors(t *testing.T) {
	t.Parallel()
	in := "id,name\n" +
		"C1,\"Li\"Wei\n" + // line 2: text after a closing quote
		"C2,Ma Li\n" + // line 3
		"C3,\"Zhang\n" + // line 4: never closed
		"C4,Wang\n" // line 5
	cs, errs := readAll(t, strings.NewReader(in))
	wantErrs := []string{
		`line 2: missing or stray " in a quoted field (byte 7)`,
		`line 4: unclosed quote: the " at byte 4 opens a field that is never closed`,
	}
	checkRows(t, cs, errs, wantErrs, "C2 C4")
}

// TestCSVReaderStrayQuoteInALongFile is a stray quote whose field a later
// quote seems to close: the lines in between are rows, not the field.
func TestCSVReaderStrayQuoteInALongFile(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("id,name,email\n")
	for i := 2; i <= 1000; i++ {
		switch i {
		case 11:
			fmt.Fprintf(&b, "C%d,\"Stray quote,c%d@example.com\n", i, i)
		case 500:
			fmt.Fprintf(&b, "C%d,\"Chan, Hui Min\",c%d@example.com\n", i, i)
		default:
			fmt.Fprintf(&b, "C%d,Name %d,c%d@example.com\n", i, i, i)
		}
	}
	cs, errs := readAll(t, strings.NewReader(b.String()))
	want := []string{`line 11: unclosed quote: the " at byte 5 opens a field that spans lines and breaks at line 500, byte 6 (text after the closing ")`}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("row errors %q, want %q", errs, want)
	}
	if len(cs) != 998 || cs[9].ExternalID != "C12" || cs[497].Name != "Chan, Hui Min" {
		t.Errorf("%d customers (the 10th %s, the 498th named %q), want 998, C12 and \"Chan, Hui Min\"", len(cs), cs[9].ExternalID, cs[497].Name)
	}
}

// TestCSVReaderStrayQuotesThatSeemToClose: a stray quote and a later one
// make one record of several lines, which is bad; the lines in between are
// rows of their own, not lost with it.
func TestCSVReaderStrayQuotesThatSeemToClose(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"too many fields": "id,name,email\n" +
			"C1,\"Li,a@example.com\n" + // line 2: a stray quote
			"C2,Bo,b@example.com\n" +
			"C3,Wei\",c@example.com,extra\n" + // line 4: another, then text
			"C4,Ma,d@example.com\n",
		"a line break in a name": "id,name,email\n" +
			"C1,\"Li,a@example.com\n" +
			"C2,Bo,b@example.com\n" +
			"C3,Wei\",c@example.com\n" +
			"C4,Ma,d@example.com\n",
	} {
		t.Run(name, func(t *testing.T) {
			cs, errs := readAll(t, strings.NewReader(in))
			if len(errs) != 2 || !strings.HasPrefix(errs[0], "line 2: ") || !strings.HasPrefix(errs[1], "line 4: ") {
				t.Errorf("row errors %q, want one on line 2 and one on line 4", errs)
			}
			if got := ids(cs); got != "C2 C4" {
				t.Errorf("customers %s, want C2 C4", got)
			}
		})
	}
}

// TestCSVReaderLongLines checks the bound on a record: a line over it, or
// a quote not closed within it, is one bad row.
func TestCSVReaderLongLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxRecordBytes+1)
	in := "id,attr.note\n" +
		"C1," + long + "\n" + // line 2
		"C2,ok\n" + // line 3
		"C3,\"" + strings.Repeat("y\n", MaxRecordBytes/2) + // lines 4 to 32771: an open quote, then 64 KiB of lines
		"C4,ok\n"
	cs, errs := readAll(t, strings.NewReader(in))
	want := []string{
		"line 2: line longer than 64 KiB",
		`line 4: unclosed quote: the " at byte 4 opens a field that is not closed within 64 KiB`,
	}
	// Each "y" line after line 4 is read again as a row of its own.
	yLines := MaxRecordBytes/2 - 1
	if len(errs) != 2+yLines || !reflect.DeepEqual(errs[:2], want) || errs[2] != "line 5: wrong number of fields: 1, want 2" {
		t.Errorf("%d row errors, starting %q, want %d starting %q", len(errs), errs[:min(3, len(errs))], 2+yLines, want)
	}
	if got := ids(cs); got != "C2 C4" {
		t.Errorf("customers %s, want C2 C4", got)
	}
}

// TestCSVReaderBadText checks what PostgreSQL would refuse for the whole
// batch (bytes that are not UTF-8, a NUL) and the length limits: each is
// that row's error, named by column, without repeating the value.
func TestCSVReaderBadText(t *testing.T) {
	t.Parallel()
	tags := make([]string, MaxTags+1)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	in := "id,name,tags,attr.note\n" +
		"C1,Li \xff Wei,,\n" + // line 2
		"C2,Li\x00,,\n" + // line 3
		"C3," + strings.Repeat("名", MaxNameLen) + ",,\n" + // line 4: at the limit
		"C4," + strings.Repeat("名", MaxNameLen+1) + ",,\n" + // line 5
		"C5,,\"" + strings.Join(tags, ",") + "\",\n" + // line 6
		"C6,,\"" + strings.Join(tags[:MaxTags], ",") + "\",\n" + // line 7: at the limit
		"C7,,x" + strings.Repeat("y", MaxTagLen) + ",\n" + // line 8
		"C8,,," + strings.Repeat("z", MaxAttributeLen+1) + "\n" + // line 9
		"C9,,,\"caf\xe9\"\n" // line 10: Latin-1
	cs, errs := readAll(t, strings.NewReader(in))
	want := []string{
		`line 2: name: not UTF-8 (byte 0xff at byte 4 of the field): save the file as UTF-8 ("CSV UTF-8" in Excel)`,
		`line 3: name: contains a NUL byte`,
		`line 5: name: too long: 201 characters, at most 200`,
		`line 6: tags "` + strings.Join(tags, ",") + `": 51 tags, at most 50`,
		`line 8: tags "x` + strings.Repeat("y", MaxTagLen) + `": tag "x` + strings.Repeat("y", MaxTagLen) + `" is 65 characters, at most 64`,
		`line 9: attr.note: too long: 1001 characters, at most 1000`,
		`line 10: attr.note: not UTF-8 (byte 0xe9 at byte 4 of the field): save the file as UTF-8 ("CSV UTF-8" in Excel)`,
	}
	checkRows(t, cs, errs, want, "C3 C6")
}

// TestCSVReaderFutureDates: a purchase in 2062 would match "bought within
// 30 days" for decades, and a birthday in 2030 is a typo.
func TestCSVReaderFutureDates(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	in := "id,last_purchase_at,created_at,email_consent_at,birthday\n" +
		"C1,2026-12-05 09:00:00,,,\n" + // line 2: within a day of clock skew
		"C2,2062-01-01,,,\n" + // line 3
		"C3,,2026-12-06,,\n" + // line 4
		"C4,,,2027-01-01T00:00:00+08:00,\n" + // line 5
		"C5,,,,2030-05-01\n" + // line 6
		"C6,,,,2026-12-04\n" + // line 7: born today
		"C7,,,,12-31\n" // line 8: no year
	cs, errs := readAllWith(t, strings.NewReader(in), Normalizer{DefaultRegion: "CN", Now: now})
	want := []string{
		`line 3: last_purchase_at "2062-01-01": in the future`,
		`line 4: created_at "2026-12-06": in the future`,
		`line 5: email_consent_at "2027-01-01T00:00:00+08:00": in the future`,
		`line 6: birthday "2030-05-01": in the future`,
	}
	checkRows(t, cs, errs, want, "C1 C6 C7")
}

func TestCSVReaderTooManyAttributes(t *testing.T) {
	t.Parallel()
	var h strings.Builder
	h.WriteString("id")
	for i := range MaxAttributes + 1 {
		fmt.Fprintf(&h, ",attr.a%d", i)
	}
	_, err := NewCSVReader(strings.NewReader(h.String()+"\n"), cn)
	if want := "line 1: 51 attribute columns, at most 50"; errText(err) != want {
		t.Errorf("error %q, want %q", errText(err), want)
	}
}

// checkRows compares what readAll returned with the row errors and the
// external ids of the good rows wanted.
func checkRows(t *testing.T, cs []Customer, errs, wantErrs []string, wantIDs string) {
	t.Helper()
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("row errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
	if got := ids(cs); got != wantIDs {
		t.Errorf("customers %s, want %s", got, wantIDs)
	}
}

func ids(cs []Customer) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ExternalID)
	}
	return strings.Join(out, " ")
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestCSVReaderReadFailureIsFatal(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	r, err := NewCSVReader(&failingReader{strings.NewReader("id\nC1\n"), boom}, cn)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := r.Next(); err != nil || c.ExternalID != "C1" {
		t.Fatalf("Next() = %+v, %v", c, err)
	}
	_, err = r.Next()
	if !errors.Is(err, boom) {
		t.Fatalf("Next() error = %v, want %v", err, boom)
	}
	if _, ok := errors.AsType[*RowError](err); ok {
		t.Errorf("a read failure must not look like a bad row: %v", err)
	}
}

func TestCSVReaderBytesRead(t *testing.T) {
	t.Parallel()
	header, row1, row2 := "id,attr.note\n", "C1,\"Li\nWei\"\n", "C2,Ma\n"
	r, err := NewCSVReader(strings.NewReader(header+row1+row2), cn)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{int64(len(header)), int64(len(header + row1)), int64(len(header + row1 + row2))}
	got := []int64{r.BytesRead()}
	for range 2 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		got = append(got, r.BytesRead())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BytesRead after each row = %v, want %v", got, want)
	}
}

func TestRowErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  RowError
		want string
	}{
		{RowError{42, "phone", "12345", "not a valid phone number for region CN"}, `line 42: phone "12345": not a valid phone number for region CN`},
		{RowError{42, "", "", "wrong number of fields: 5, want 7"}, "line 42: wrong number of fields: 5, want 7"},
		{RowError{3, "external_id", "", "required"}, "line 3: external_id: required"},
		{RowError{3, "email", "a@b.c\r\nBcc: x", "not a valid email address"}, `line 3: email "a@b.c\r\nBcc: x": not a valid email address`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}

func TestParseTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{" ; | , ", nil, ""},
		{"vip", []string{"vip"}, ""},
		{"VIP;vip| Vip ,wechat", []string{"vip", "wechat"}, ""},
		{"a;b|c,d", []string{"a", "b", "c", "d"}, ""},
		{"source:wechat,2024.q1,tea_lover,prefers-sms", []string{"source:wechat", "2024.q1", "tea_lover", "prefers-sms"}, ""},
		{"vip;-sale", nil, `bad tag "-sale" (use a-z, 0-9, and _ . : - after the first character)`},
		{"big spender", nil, `bad tag "big spender" (use a-z, 0-9, and _ . : - after the first character)`},
		{"会员", nil, `bad tag "会员" (use a-z, 0-9, and _ . : - after the first character)`},
	}
	for _, tt := range tests {
		got, err := ParseTags(tt.in)
		if !reflect.DeepEqual(got, tt.want) || errText(err) != tt.err {
			t.Errorf("ParseTags(%q) = %q, %q; want %q, %q", tt.in, got, errText(err), tt.want, tt.err)
		}
	}
}

func TestAttributeValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{"42", int64(42)},
		{"-7", int64(-7)},
		{"0", int64(0)},
		{"3.25", 3.25},
		{"-0.5", -0.5},
		{"0.5", 0.5},
		{"true", true},
		{"False", false},
		{"02134", "02134"},
		{"007.5", "007.5"},
		{"9223372036854775808", "9223372036854775808"},
		{"1e3", "1e3"},
		{"Inf", "Inf"},
		{".5", ".5"},
		{"5.", "5."},
		{"+5", "+5"},
		{"yes", "yes"},
		{"上海", "上海"},
	}
	for _, tt := range tests {
		if got := attributeValue(tt.in); got != tt.want {
			t.Errorf("attributeValue(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func ExampleCSVReader() {
	in := `external_id,name,mobile,tier
C1,王伟,138 1234 5678,黄金
C2,Li Na,12345,general
`
	r, err := NewCSVReader(strings.NewReader(in), Normalizer{DefaultRegion: "CN"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		c, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if _, ok := errors.AsType[*RowError](err); ok {
			fmt.Println("skipped:", err)
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(c.ExternalID, c.Name, c.Phone, c.Tier)
	}
	// Output:
	// C1 王伟 +8613812345678 gold
	// skipped: line 3: mobile "12345": not a valid phone number for region CN
}

func TestCSVReaderColumns(t *testing.T) {
	r, err := NewCSVReader(strings.NewReader("ID,Email,attributes.city,attr.size,Tags\n"), Normalizer{DefaultRegion: "CN"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Columns(), ","); got != "external_id,email,attributes,tags" {
		t.Errorf("Columns() = %s", got)
	}
}

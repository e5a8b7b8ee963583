package pangolin

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Product is an amzProductDetail result. The API sends numbers as strings
// ("star":"4.4", "price":"$19.99") and absent values as the string "null";
// FlexString keeps what was sent as text so that a stored product can be
// compared with ground truth byte for byte.
type Product struct {
	ASIN            FlexString   `json:"asin"`
	Title           FlexString   `json:"title"`
	Price           FlexString   `json:"price"`
	Star            FlexString   `json:"star"`
	Rating          FlexString   `json:"rating"`
	Image           FlexString   `json:"image"`
	Images          []FlexString `json:"images"`
	Sales           FlexString   `json:"sales"`
	Seller          FlexString   `json:"seller"`
	Shipper         FlexString   `json:"shipper"`
	MerchantID      FlexString   `json:"merchant_id"`
	Color           FlexString   `json:"color"`
	Size            FlexString   `json:"size"`
	Brand           FlexString   `json:"brand"`
	HasCart         FlexString   `json:"has_cart"`
	OtherASINs      []FlexString `json:"otherAsins"`
	Description     FlexString   `json:"description"`
	DeliveryTime    FlexString   `json:"deliveryTime"`
	Coupon          FlexString   `json:"coupon"`
	CustomerReviews FlexString   `json:"customerReviews"`
	CategoryID      FlexString   `json:"category_id"`
	PkgDims         FlexString   `json:"pkg_dims"`
	PkgWeight       FlexString   `json:"pkg_weight"`
	ProductDims     FlexString   `json:"product_dims"`
	ProductWeight   FlexString   `json:"product_weight"`
	FirstDate       FlexString   `json:"first_date"`
	ParentASIN      FlexString   `json:"parentAsin"`
	CategoryName    FlexString   `json:"category_name"`
}

// Equal reports whether p and q carry the same values in every field.
func (p *Product) Equal(q *Product) bool {
	a, errA := json.Marshal(p)
	b, errB := json.Marshal(q)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// FlexString is a JSON value kept as text: a string as itself, a number or
// boolean as its literal, an object or array as its compact JSON (newer
// answers nest seller{name,id}), and null as "". It is always sent as a
// JSON string.
type FlexString string

// UnmarshalJSON accepts any JSON value.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case b[0] == '{' || b[0] == '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*f = FlexString(buf.String())
	default:
		*f = FlexString(b)
	}
	return nil
}

// Present reports whether f holds a value: not empty and not the API's
// "null" string.
func (f FlexString) Present() bool { return f != "" && f != "null" }

// Float parses f as a number, ignoring a leading currency sign, thousands
// separators and a trailing unit ("$1,299.00" → 1299). It returns false
// when f holds no number.
func (f FlexString) Float() (float64, bool) {
	s := string(f)
	var digits []byte
	started := false
scan:
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' || c == '.':
			digits = append(digits, c)
			started = true
		case c == ',' && started:
		case started:
			break scan
		}
	}
	v, err := strconv.ParseFloat(string(digits), 64)
	return v, err == nil
}

package mockapi

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/scrapebench/scrapebench/strategies/pangolin"
)

// Catalog is the mock's deterministic world of products: the product for
// (ASIN, round) is a pure function of Seed, and Churn is the fraction of
// ASINs whose price and star change in each round after round 0. It is the
// ground truth the harness verifies stored results against.
type Catalog struct {
	Seed  uint64
	Churn float64
}

const (
	saltBase   = 0xb15e
	saltChurn  = 0xc4a7
	saltVolat  = 0x7a1e
	catalogKey = "catalog:"
)

// Changed reports whether asin's price and star change in round (round ≥ 1).
func (c Catalog) Changed(asin string, round int) bool {
	if round < 1 || c.Churn <= 0 {
		return false
	}
	return unit(mix(c.Seed, catalogKey+asin, uint64(round), saltChurn)) < c.Churn
}

// lastChange returns the latest round ≤ round in which asin changed, or 0.
func (c Catalog) lastChange(asin string, round int) int {
	for r := round; r >= 1; r-- {
		if c.Changed(asin, r) {
			return r
		}
	}
	return 0
}

// draws is a stream of deterministic numbers for one product.
type draws struct {
	seed uint64
	key  string
	salt uint64
	n    uint64
}

func (d *draws) next() uint64 {
	d.n++
	return mix(d.seed, d.key, d.n, d.salt)
}

func (d *draws) intn(n int) int { return int(d.next() % uint64(n)) }

func (d *draws) pick(words []string) string { return words[d.intn(len(words))] }

var (
	brands     = []string{"Anker", "Ugreen", "Cosori", "Lodge", "Hydro Flask", "Logitech", "Baseus", "Ninja", "Oxo", "Zojirushi", "Etekcity", "Soundcore"}
	adjectives = []string{"Portable", "Wireless", "Stainless Steel", "Compact", "Rechargeable", "Ergonomic", "Waterproof", "Foldable", "Insulated", "Smart"}
	nouns      = []string{"Charger", "Air Fryer", "Skillet", "Water Bottle", "Mouse", "Power Bank", "Blender", "Kettle", "Scale", "Earbuds", "Desk Lamp", "Backpack"}
	colors     = []string{"Black", "White", "Navy", "Sage Green", "Graphite", "Red", "null"}
	sizes      = []string{"Small", "Medium", "Large", "12 oz", "32 oz", "One Size", "null"}
	categories = []string{"Electronics", "Home & Kitchen", "Sports & Outdoors", "Office Products", "Tools & Home Improvement"}
	months     = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	days       = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	alnum      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

func (d *draws) code(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < n; i++ {
		b.WriteByte(alnum[d.intn(len(alnum))])
	}
	return b.String()
}

// Product returns the product for asin in round, with numbers as strings and
// absent values as "null", as the real API sends them.
func (c Catalog) Product(asin string, round int) pangolin.Product {
	asin = strings.ToUpper(asin)
	d := &draws{seed: c.Seed, key: catalogKey + asin, salt: saltBase}
	v := &draws{seed: c.Seed, key: catalogKey + asin, salt: saltVolat + uint64(c.lastChange(asin, round))<<16}
	brand := d.pick(brands)
	title := fmt.Sprintf("%s %s %s, %s", brand, d.pick(adjectives), d.pick(nouns), d.pick(colors))
	img := func() pangolin.FlexString {
		return pangolin.FlexString("https://m.media-amazon.com/images/I/" + d.code("", 11) + "L._AC_SL1500_.jpg")
	}
	images := make([]pangolin.FlexString, 3+d.intn(4))
	for i := range images {
		images[i] = img()
	}
	others := make([]pangolin.FlexString, d.intn(5))
	for i := range others {
		others[i] = pangolin.FlexString(d.code("B0", 8))
	}
	cents := 499 + v.intn(30000)
	star := 30 + v.intn(21)
	str := func(s string) pangolin.FlexString { return pangolin.FlexString(s) }
	nullOr := func(p int, s string) pangolin.FlexString {
		if d.intn(100) < p {
			return "null"
		}
		return pangolin.FlexString(s)
	}
	merchant := d.code("A", 13)
	seller := brand + " Direct"
	shipper := "Amazon"
	if d.intn(3) == 0 {
		shipper = seller
	}
	return pangolin.Product{
		ASIN:            str(asin),
		Title:           str(title),
		Price:           str(fmt.Sprintf("$%d.%02d", cents/100, cents%100)),
		Star:            str(fmt.Sprintf("%d.%d", star/10, star%10)),
		Rating:          str(strconv.Itoa(1 + d.intn(40000))),
		Image:           img(),
		Images:          images,
		Sales:           nullOr(30, fmt.Sprintf("%dK+ bought in past month", 1+d.intn(20))),
		Seller:          str(seller),
		Shipper:         str(shipper),
		MerchantID:      str(merchant),
		Color:           str(d.pick(colors)),
		Size:            str(d.pick(sizes)),
		Brand:           str(brand),
		HasCart:         str(strconv.FormatBool(d.intn(10) != 0)),
		OtherASINs:      others,
		Description:     str(fmt.Sprintf("%s by %s. Built for everyday use; backed by a %d-month warranty.", title, brand, 6+d.intn(31))),
		DeliveryTime:    str(fmt.Sprintf("FREE delivery %s, %s %d", d.pick(days), months[d.intn(12)][:3], 1+d.intn(28))),
		Coupon:          nullOr(70, fmt.Sprintf("Save %d%%", 5+d.intn(26))),
		CustomerReviews: nullOr(20, fmt.Sprintf("%d global ratings", 1+d.intn(40000))),
		CategoryID:      str(strconv.Itoa(1000000 + d.intn(9000000))),
		PkgDims:         str(fmt.Sprintf("%d x %d x %d inches", 2+d.intn(20), 2+d.intn(15), 1+d.intn(10))),
		PkgWeight:       str(fmt.Sprintf("%d.%d pounds", d.intn(20), d.intn(10))),
		ProductDims:     nullOr(25, fmt.Sprintf("%d x %d x %d inches", 1+d.intn(18), 1+d.intn(12), 1+d.intn(8))),
		ProductWeight:   nullOr(25, fmt.Sprintf("%d ounces", 1+d.intn(300))),
		FirstDate:       str(fmt.Sprintf("%s %d, %d", months[d.intn(12)], 1+d.intn(28), 2015+d.intn(11))),
		ParentASIN:      str(d.code("B0", 8)),
		CategoryName:    str(d.pick(categories)),
	}
}

// RawHTML renders p as the page the rawHtml format returns.
func RawHTML(p *pangolin.Product) string {
	return fmt.Sprintf(`<!doctype html><html><head><title>Amazon.com: %s</title></head><body>`+
		`<span id="productTitle">%s</span><span class="a-price"><span class="a-offscreen">%s</span></span>`+
		`<span id="acrPopover" title="%s out of 5 stars"></span><span id="acrCustomerReviewText">%s ratings</span>`+
		`<div id="bylineInfo">Brand: %s</div><input type="hidden" name="ASIN" value="%s"></body></html>`,
		p.Title, p.Title, p.Price, p.Star, p.Rating, p.Brand, p.ASIN)
}

// Markdown renders p as the markdown format returns it.
func Markdown(p *pangolin.Product) string {
	return fmt.Sprintf("# %s\n\n- Price: %s\n- Rating: %s out of 5 stars (%s ratings)\n- Brand: %s\n- ASIN: %s\n\n%s\n",
		p.Title, p.Price, p.Star, p.Rating, p.Brand, p.ASIN, p.Description)
}

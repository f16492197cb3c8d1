// Package dn parses RFC 4514 distinguished names and compares them with a
// certificate's subject, for tls_client_auth_subject_dn (RFC 8705 2.1.2).
//
// Comparison is of parsed names, never of strings: the same RDNs in the same
// order, each with the same attribute types (by OID, so "cn", "CN" and
// "2.5.4.3" are one type) and the same values after unescaping, compared
// exactly. That is stricter than LDAP's caseIgnoreMatch: a name that differs
// in the case of a value, or in the order of its RDNs, does not match.
package dn

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"crypto/x509/pkix"
)

// types are the attribute type names of RFC 4514 3, plus emailAddress,
// which OpenSSL prints and many client certificates carry.
var types = map[string]asn1.ObjectIdentifier{
	"CN":           {2, 5, 4, 3},
	"SERIALNUMBER": {2, 5, 4, 5},
	"C":            {2, 5, 4, 6},
	"L":            {2, 5, 4, 7},
	"ST":           {2, 5, 4, 8},
	"STREET":       {2, 5, 4, 9},
	"O":            {2, 5, 4, 10},
	"OU":           {2, 5, 4, 11},
	"POSTALCODE":   {2, 5, 4, 17},
	"DC":           {0, 9, 2342, 19200300, 100, 1, 25},
	"UID":          {0, 9, 2342, 19200300, 100, 1, 1},
	"EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
}

// Parse reads an RFC 4514 string into the RDN sequence of a certificate's
// subject, whose order is the reverse of the string's (the string starts
// with the most specific RDN, "CN=..."). Spaces around the separators are
// ignored, as most printers put them there; a value that starts or ends
// with a space must escape it. A "#" value is hex of a DER string.
func Parse(s string) (pkix.RDNSequence, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty distinguished name")
	}
	var seq pkix.RDNSequence
	p := parser{s: s}
	for {
		rdn, err := p.rdn()
		if err != nil {
			return nil, err
		}
		seq = append(seq, rdn)
		if p.done() {
			break
		}
		// p.rdn stops only at a comma or at the end.
		p.i++
	}
	slices.Reverse(seq)
	return seq, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) done() bool { return p.i >= len(p.s) }

func (p *parser) skipSpaces() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

// rdn reads attributeTypeAndValue *( "+" attributeTypeAndValue ).
func (p *parser) rdn() (pkix.RelativeDistinguishedNameSET, error) {
	var rdn pkix.RelativeDistinguishedNameSET
	for {
		atv, err := p.atv()
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, atv)
		if p.done() || p.s[p.i] == ',' {
			return rdn, nil
		}
		p.i++ // '+'
	}
}

func (p *parser) atv() (pkix.AttributeTypeAndValue, error) {
	p.skipSpaces()
	start := p.i
	for !p.done() && p.s[p.i] != '=' && p.s[p.i] != ',' && p.s[p.i] != '+' {
		p.i++
	}
	name := strings.TrimSpace(p.s[start:p.i])
	if p.done() || p.s[p.i] != '=' {
		return pkix.AttributeTypeAndValue{}, fmt.Errorf("at %q: want type=value", p.s[start:])
	}
	p.i++ // '='
	oid, err := attributeType(name)
	if err != nil {
		return pkix.AttributeTypeAndValue{}, err
	}
	p.skipSpaces()
	var value string
	if !p.done() && p.s[p.i] == '#' {
		value, err = p.hexValue()
	} else {
		value, err = p.stringValue()
	}
	if err != nil {
		return pkix.AttributeTypeAndValue{}, fmt.Errorf("value of %s: %w", name, err)
	}
	return pkix.AttributeTypeAndValue{Type: oid, Value: value}, nil
}

// attributeType is a name of types or a dotted OID.
func attributeType(name string) (asn1.ObjectIdentifier, error) {
	if oid, ok := types[strings.ToUpper(name)]; ok {
		return oid, nil
	}
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("unknown attribute type %q (use CN, O, OU, C, L, ST, STREET, SERIALNUMBER, POSTALCODE, DC, UID, emailAddress or a dotted OID)", name)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || part != strconv.Itoa(n) {
			return nil, fmt.Errorf("attribute type %q is not a dotted OID", name)
		}
		oid[i] = n
	}
	return oid, nil
}

// stringValue reads an RFC 4514 string up to an unescaped ',' or '+',
// dropping unescaped trailing spaces.
func (p *parser) stringValue() (string, error) {
	var b []byte
	keep := 0 // length of b up to its last escaped or non-space byte
	for !p.done() {
		c := p.s[p.i]
		switch c {
		case ',', '+':
			return string(b[:keep]), p.nonEmpty(b[:keep])
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", errors.New("ends in a lone backslash")
			}
			next := p.s[p.i+1]
			if strings.IndexByte(` "#+,;<=>\`, next) >= 0 {
				b = append(b, next)
				p.i += 2
			} else if p.i+2 < len(p.s) {
				v, err := hex.DecodeString(p.s[p.i+1 : p.i+3])
				if err != nil {
					return "", fmt.Errorf(`bad escape %q`, p.s[p.i:p.i+3])
				}
				b = append(b, v...)
				p.i += 3
			} else {
				return "", fmt.Errorf(`bad escape %q`, p.s[p.i:])
			}
			keep = len(b)
		case '"', ';', '<', '>':
			return "", fmt.Errorf("unescaped %q", c)
		default:
			b = append(b, c)
			p.i++
			if c != ' ' {
				keep = len(b)
			}
		}
	}
	return string(b[:keep]), p.nonEmpty(b[:keep])
}

func (p *parser) nonEmpty(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty")
	}
	return nil
}

// hexValue reads "#" hexstring: the DER of an ASN.1 string.
func (p *parser) hexValue() (string, error) {
	start := p.i + 1
	p.i = start
	for !p.done() && p.s[p.i] != ',' && p.s[p.i] != '+' {
		p.i++
	}
	der, err := hex.DecodeString(strings.TrimRight(p.s[start:p.i], " "))
	if err != nil {
		return "", fmt.Errorf("bad hex: %w", err)
	}
	var v string
	if rest, err := asn1.Unmarshal(der, &v); err != nil || len(rest) != 0 {
		return "", errors.New("hex is not the DER of one ASN.1 string")
	}
	return v, nil
}

// Equal reports whether a and b are the same name: the same RDNs in the same
// order, each the same set of types and string values. A value that is not
// a string (which no parsed name has) never matches.
func Equal(a, b pkix.RDNSequence) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		// An RDN is a set: each of a's members once in b.
		used := make([]bool, len(b[i]))
		for _, x := range a[i] {
			found := false
			for j, y := range b[i] {
				if !used[j] && sameATV(x, y) {
					used[j], found = true, true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

func sameATV(x, y pkix.AttributeTypeAndValue) bool {
	xs, ok1 := x.Value.(string)
	ys, ok2 := y.Value.(string)
	return ok1 && ok2 && x.Type.Equal(y.Type) && xs == ys
}

// OfCertificate is the subject of a certificate, from its raw DER, in the
// order the certificate has it (pkix.Name would lose that order).
func OfCertificate(rawSubject []byte) (pkix.RDNSequence, error) {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(rawSubject, &seq)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after the subject")
	}
	return seq, nil
}

package dn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"
)

// certSubject is the raw subject of a certificate made for name.
func certSubject(t *testing.T, name pkix.Name) (raw []byte, printed string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: name, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert.RawSubject, cert.Subject.String()
}

func TestParseMatchesCertificateSubject(t *testing.T) {
	acme := pkix.Name{CommonName: "client-1", Organization: []string{"Acme, Inc."}, OrganizationalUnit: []string{"payments"}, Country: []string{"DE"}}
	email := pkix.Name{CommonName: "svc", ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "svc@example.com"}}}
	tests := []struct {
		name    string
		subject pkix.Name
		dn      string
		want    bool
	}{
		{"as Go prints it", acme, `CN=client-1,OU=payments,O=Acme\, Inc.,C=DE`, true},
		{"lower-case types and spaces after commas", acme, `cn=client-1, ou=payments, o=Acme\, Inc., c=DE`, true},
		{"dotted OIDs", acme, `2.5.4.3=client-1,2.5.4.11=payments,2.5.4.10=Acme\, Inc.,2.5.4.6=DE`, true},
		{"hex-escaped comma", acme, `CN=client-1,OU=payments,O=Acme\2C Inc.,C=DE`, true},
		{"another common name", acme, `CN=client-2,OU=payments,O=Acme\, Inc.,C=DE`, false},
		{"value in another case", acme, `CN=CLIENT-1,OU=payments,O=Acme\, Inc.,C=DE`, false},
		{"RDNs in another order", acme, `C=DE,O=Acme\, Inc.,OU=payments,CN=client-1`, false},
		{"one RDN missing", acme, `CN=client-1,O=Acme\, Inc.,C=DE`, false},
		{"one RDN more", acme, `CN=client-1,OU=payments,O=Acme\, Inc.,C=DE,DC=example`, false},
		{"common name alone", acme, `CN=client-1`, false},
		{"emailAddress by name", email, `emailAddress=svc@example.com,CN=svc`, true},
		// RDNSequence.String keeps the certificate's order; pkix.Name.String
		// moves the types it has no field for to the end.
		{"emailAddress as RDNSequence.String prints it (hex DER)", email, "sequence", true},
		{"emailAddress as pkix.Name.String prints it", email, "name", false},
		{"UTF-8 by hex escapes", pkix.Name{CommonName: "é"}, `CN=\C3\A9`, true},
		{"escaped trailing space kept", pkix.Name{CommonName: "a "}, `CN=a\ `, true},
		{"unescaped trailing space dropped", pkix.Name{CommonName: "a "}, `CN=a `, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, printed := certSubject(t, tt.subject)
			subject, err := OfCertificate(raw)
			if err != nil {
				t.Fatal(err)
			}
			switch tt.dn {
			case "sequence":
				tt.dn = subject.String()
			case "name":
				tt.dn = printed
			}
			parsed, err := Parse(tt.dn)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.dn, err)
			}
			if got := Equal(parsed, subject); got != tt.want {
				t.Errorf("Equal(Parse(%q), subject %s): got %v, want %v", tt.dn, printed, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ dn, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"client-1", "want type=value"},
		{"CN=a,", "want type=value"},
		{"CN=", "empty"},
		{"CN=a,,O=b", "want type=value"},
		{"XX=a", `unknown attribute type "XX"`},
		{"1.x=a", "not a dotted OID"},
		{`CN=a\`, "lone backslash"},
		{`CN=a\zz`, "bad escape"},
		{`CN=a;b`, `unescaped ';'`},
		{`CN=#zz`, "bad hex"},
		{`CN=#0500`, "not the DER of one ASN.1 string"},
	}
	for _, tt := range tests {
		t.Run(tt.dn, func(t *testing.T) {
			got, err := Parse(tt.dn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q): got %v, %v; want an error with %q", tt.dn, got, err, tt.want)
			}
		})
	}
}

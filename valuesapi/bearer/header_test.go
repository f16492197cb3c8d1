package bearer

import (
	"errors"
	"net/http"
	"testing"
)

func TestTokenFromHeader(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    string
		wantErr error
	}{
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", nil},
		{"scheme case-insensitive", []string{"bEaReR abc"}, "abc", nil},
		{"several spaces (1*SP)", []string{"Bearer   abc"}, "abc", nil},
		{"token68 charset with padding", []string{"Bearer aZ09-._~+/=="}, "aZ09-._~+/==", nil},
		{"no header", nil, "", ErrNoToken},
		{"empty", []string{""}, "", ErrNoToken},
		{"other scheme", []string{"Basic dXNlcjpwYXNz"}, "", ErrNoToken},
		{"no scheme", []string{"abc.def.ghi"}, "", errMalformedHeader},
		{"scheme only", []string{"Bearer"}, "", errMalformedHeader},
		{"two tokens", []string{"Bearer abc def"}, "", errMalformedHeader},
		{"two headers", []string{"Bearer abc", "Bearer abc"}, "", errMalformedHeader},
		{"tab separator", []string{"Bearer\tabc"}, "", errMalformedHeader},
		{"quote in token", []string{`Bearer ab"c`}, "", errMalformedHeader},
		{"comma in token", []string{"Bearer abc,def"}, "", errMalformedHeader},
		{"padding only", []string{"Bearer =="}, "", errMalformedHeader},
		{"padding in the middle", []string{"Bearer ab=c"}, "", errMalformedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Authorization", v)
			}
			got, err := TokenFromHeader(h)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// testEncryptionKey is a well-formed AUTHSERVER_KEY_ENCRYPTION_KEY.
var testEncryptionKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

func TestKeyStoreConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "redis keys need the encryption key", args: []string{"--store", "redis://127.0.0.1:1/0"},
			wantErr: "AUTHSERVER_KEY_ENCRYPTION_KEY to 32 random bytes"},
		{name: "key-file with key-dir", args: []string{"--key-dir", "k", "--key-file", "f.jwk"}, wantErr: "keys import --now FILE"},
		{name: "key-file with store", args: []string{"--store", "redis://127.0.0.1:1/0", "--key-file", "f.jwk"},
			env: map[string]string{"AUTHSERVER_KEY_ENCRYPTION_KEY": testEncryptionKey}, wantErr: "key-file: not used"},
		{name: "short encryption key", args: []string{"--key-dir", "k"}, env: map[string]string{"AUTHSERVER_KEY_ENCRYPTION_KEY": "c2hvcnQ="},
			wantErr: "decodes to 5 bytes, want 32"},
		{name: "retain shorter than tokens", args: []string{"--key-dir", "k", "--key-retain", "30m"}, wantErr: "key-retain: 30m0s must be at least --token-lifetime (1h0m0s)"},
		{name: "announce shorter than reload", args: []string{"--key-dir", "k", "--key-announce", "10s"}, wantErr: "key-announce: 10s must be at least --key-reload (30s)"},
		{name: "rotation shorter than announce", args: []string{"--key-dir", "k", "--key-rotation", "1d"}, wantErr: "key-rotation: 24h0m0s must be at least --key-announce (336h0m0s)"},
		{name: "zero rotation", args: []string{"--key-dir", "k", "--key-rotation", "0d"}, wantErr: "key-rotation: must be positive"},
		{name: "reload too fast", args: []string{"--key-dir", "k", "--key-reload", "1ms", "--key-announce", "1s"}, wantErr: "key-reload: 1ms must be at least 100ms"},
		{name: "days in the environment", env: map[string]string{"AUTHSERVER_KEY_DIR": "k", "AUTHSERVER_KEY_RETAIN": "fortnight"}, wantErr: "AUTHSERVER_KEY_RETAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, envFrom(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if k := tt.env["AUTHSERVER_KEY_ENCRYPTION_KEY"]; k != "" && strings.Contains(err.Error(), k) {
				t.Errorf("the encryption key is in the error: %v", err)
			}
		})
	}
}

func TestKeyStoreConfigAccepted(t *testing.T) {
	// The rotation settings of the e2e tests: seconds, not days.
	cfg, err := parseConfig([]string{"--key-dir", "k", "--key-announce", "2s", "--key-rotation", "4s", "--key-retain", "3s",
		"--key-reload", "200ms", "--token-lifetime", "3s"}, envFrom(map[string]string{"AUTHSERVER_KEY_ENCRYPTION_KEY": testEncryptionKey}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.rotating() || string(cfg.KeyEncryptionKey) != testEncryptionKey || cfg.keyPolicy().Rotation.Seconds() != 4 {
		t.Errorf("got %+v", cfg)
	}
	for _, printed := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v %#v", cfg, cfg)} {
		if strings.Contains(printed, testEncryptionKey) {
			t.Errorf("the encryption key is in the printed config: %s", printed)
		}
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "cfg", cfg, "key", cfg.KeyEncryptionKey)
	if strings.Contains(logged.String(), testEncryptionKey) {
		t.Errorf("the encryption key is logged: %s", logged.String())
	}
	for _, a := range cfg.logAttrs() {
		if strings.Contains(a.(interface{ String() string }).String(), testEncryptionKey) {
			t.Errorf("the encryption key is logged: %v", a)
		}
	}
}

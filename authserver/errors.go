package main

// errorBody is the RFC 6749 5.2 error shape, used for every JSON error.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

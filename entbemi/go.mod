module github.com/bemi-go/bemi/entbemi

go 1.26.0

require (
	entgo.io/ent v0.14.5
	github.com/bemi-go/bemi/capture v0.0.0-00010101000000-000000000000
	github.com/bemi-go/bemi/core v0.0.0-00010101000000-000000000000
	github.com/bemi-go/bemi/internal/pgxsql v0.0.0
	github.com/jackc/pgx/v5 v5.13.0
)

require (
	ariga.io/atlas v0.32.1-0.20250325101103-175b25e1c1b9 // indirect
	github.com/agext/levenshtein v1.2.3 // indirect
	github.com/apparentlymart/go-textseg/v15 v15.0.0 // indirect
	github.com/bmatcuk/doublestar v1.3.4 // indirect
	github.com/go-openapi/inflect v0.19.0 // indirect
	github.com/google/go-cmp v0.6.0 // indirect
	github.com/google/uuid v1.3.0 // indirect
	github.com/hashicorp/hcl/v2 v2.18.1 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/mitchellh/go-wordwrap v1.0.1 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	github.com/zclconf/go-cty v1.14.4 // indirect
	github.com/zclconf/go-cty-yaml v1.1.0 // indirect
	golang.org/x/mod v0.41.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)

replace github.com/bemi-go/bemi/core => ../core

replace github.com/bemi-go/bemi/capture => ../capture

replace github.com/bemi-go/bemi/internal/pgxsql => ../internal/pgxsql

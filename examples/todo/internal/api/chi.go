package api

import (
	"encoding/json"
	"net/http"

	"github.com/bemi-go/bemi/core"

	bemichi "github.com/bemi-go/bemi/middleware/chi"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

func newChi(h *handlers) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(bemichi.Middleware(bemichi.Config{
		Fields: func(r *http.Request) core.Fields {
			// The JSON body when there is one, else the URL parameters.
			// JSONBody puts the body back for the handler.
			params, err := bemichi.JSONBody(r, 0)
			if err != nil || params == nil {
				params = bemichi.URLParams(r)
			}

			return contextFields(r.Header, params)
		},
	}))

	r.Post("/todo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, h.create(r.Context(), r.Body))
	})
	r.Get("/todo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, h.list(r.Context()))
	})
	r.Put("/todo/{id}/complete", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, h.complete(r.Context(), chi.URLParam(r, "id")))
	})
	r.Delete("/todo/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, h.remove(r.Context(), chi.URLParam(r, "id")))
	})

	return r
}

func writeJSON(w http.ResponseWriter, resp response) {
	if resp.body == nil {
		w.WriteHeader(resp.status)

		return
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	_ = json.NewEncoder(w).Encode(resp.body)
}

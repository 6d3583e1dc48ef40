package admin

import "net/http"

// recordings are the running recordings (built in record/).
type recordings struct{ h *Handler }

func newRecordings(h *Handler) *recordings { return &recordings{h: h} }

func (rs *recordings) create(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotImplemented, "recording is not built yet")
}

func (rs *recordings) remove(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotImplemented, "recording is not built yet")
}

func (rs *recordings) closeAll() {}

package whip

import "net/http"

// The session resource (RFC 9725 section 4): PATCH for trickle ICE and
// ICE restarts, DELETE to end the session, OPTIONS for CORS preflights.

// patch applies a trickle-ICE fragment: 204, or 200 with gosoup's new
// credentials for an ICE restart.
func (h *Handler) patch(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(kind, r)
		if err == nil {
			err = h.authorizeSession(r, s)
		}
		if err == nil {
			err = checkContentType(r, "application/trickle-ice-sdpfrag")
		}
		var f fragment
		if err == nil {
			var body []byte
			if body, err = readBody(w, r); err == nil {
				f, err = parseFragment(body)
			}
		}
		if err == nil {
			if m := r.Header.Get("If-Match"); m != "" && m != "*" {
				if _, etag := s.transport(); m != etag {
					err = httpErrorf(http.StatusPreconditionFailed, "If-Match %s is not the session's ETag %s", m, etag)
				}
			}
		}
		var restarted bool
		if err == nil {
			restarted, err = s.trickle(f)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		if !restarted {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		local, etag := s.transport()
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/trickle-ice-sdpfrag")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(restartFragment(local, s.first))
	}
}

// delete ends a session: 200.
func (h *Handler) delete(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(kind, r)
		if err == nil {
			err = h.authorizeSession(r, s)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		s.end(true, "deleted by the client")
		w.WriteHeader(http.StatusOK)
	}
}

// options answers a CORS preflight or a client asking what the endpoint
// takes.
func (h *Handler) options(methods, accept string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", methods)
		w.Header().Set("Access-Control-Allow-Methods", methods)
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		if accept == "Accept-Post" {
			w.Header().Set(accept, "application/sdp")
		} else {
			w.Header().Set(accept, "application/trickle-ice-sdpfrag")
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

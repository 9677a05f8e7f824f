/*
 * The error answers proxyd itself gives, defined once.  Include after
 * defining HTTP_ERROR(status, counter, explanation): counter names an entry
 * of common/tbl/counters.h; the explanation is the block page's text.
 */
HTTP_ERROR(400, errors_400,
           "The request was malformed or ambiguous, so it was not forwarded.")
HTTP_ERROR(403, errors_403, "The proxy does not allow this destination.")
HTTP_ERROR(404, errors_404, "No route of this proxy serves this host and path.")
HTTP_ERROR(408, errors_408, "The request did not arrive in time.")
HTTP_ERROR(414, errors_414,
           "The request target is longer than the proxy accepts.")
HTTP_ERROR(421, errors_421, "This proxy does not serve the requested host.")
HTTP_ERROR(431, errors_431,
           "The request head is larger than the proxy accepts.")
HTTP_ERROR(508, errors_508,
           "The request came back through this proxy: a forwarding loop.")
HTTP_ERROR(501, errors_501,
           "The request uses a feature the proxy does not implement.")
HTTP_ERROR(502, errors_502,
           "The proxy could not get a valid response from the destination.")
HTTP_ERROR(503, errors_503,
           "The service is unavailable for a moment; try again shortly.")
HTTP_ERROR(504, errors_504, "The destination did not answer in time.")
HTTP_ERROR(505, errors_505, "The proxy speaks HTTP/1.0 and HTTP/1.1 only.")
#undef HTTP_ERROR

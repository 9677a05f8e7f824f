-- wrk script for bench/run.sh: absolute-form requests through a forward proxy.
-- wrk connects to the URL given on its command line (the proxy); every
-- request line carries the origin's full URL, e.g.
--   GET http://127.0.0.1:PORT/1k.bin HTTP/1.1
--   Host: 127.0.0.1:PORT
-- BENCH_TARGET: the request target (absolute URL, or /path for the direct
-- baseline); BENCH_HOST: the Host header (origin IP:PORT).
local target = os.getenv("BENCH_TARGET")
local host = os.getenv("BENCH_HOST")
if target == nil or target == "" then
   error("BENCH_TARGET is not set")
end
wrk.method = "GET"
wrk.path = target
if host ~= nil and host ~= "" then
   wrk.headers["Host"] = host
end

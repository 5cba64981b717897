-- wrk script for bench.api: POST /api/uploads with a bearer token, as a client asks
-- for a presigned PUT. The token comes from GLOWWORM_BENCH_TOKEN; the summary is one
-- JSON line (latencies in microseconds) that bench.api reads.
wrk.method = "POST"
wrk.body = '{"filename": "photo.jpg", "content_type": "image/jpeg", "size": 2000000}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("GLOWWORM_BENCH_TOKEN")

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end

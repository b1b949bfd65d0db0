-- wrk script for bench/uplink.py: POST a unique Sigfox uplink callback per request.
--
--   wrk -t1 -c64 -d10s -s bench/uplink.lua \
--       -H 'Authorization: Basic ...' -H 'Content-Type: application/json' \
--       http://127.0.0.1:PORT -- /sigfox/uplink TIME0 DEVICE_BASE_HEX DEVICES
--
-- Request n of thread k (k = 0, 1, ...) is for device DEVICE_BASE + n % DEVICES, with
-- time = TIME0 + k * 100000000 + floor(n / DEVICES) and seqNumber = floor(n / DEVICES) % 4096,
-- so no two requests carry the same (device, seqNumber, time) and none is a duplicate.
-- The fixed part of the request is built once; each request costs one string.format.
-- No response() function: defining one makes wrk parse every response in Lua.
-- done() prints one machine-readable line, "LORAFOX_WRK {json}", for bench/uplink.py.

local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
end

local prefix
local template
local time0
local device_base
local devices
local n = 0

function init(args)
   local path = args[1] or "/sigfox/uplink"
   time0 = tonumber(args[2] or "1700000000") + (thread_index or 0) * 100000000
   device_base = tonumber(args[3] or "10000000", 16)
   devices = tonumber(args[4] or "10000")
   local lines = { "POST " .. path .. " HTTP/1.1" }
   for name, value in pairs(wrk.headers) do
      if name ~= "Content-Length" then
         lines[#lines + 1] = name .. ": " .. value
      end
   end
   prefix = table.concat(lines, "\r\n") .. "\r\nContent-Length: "
   template = '{"device":"%X","time":%d,"seqNumber":%d,'
      .. '"data":"0102030405060708090a0b0c","ack":false,"longPolling":false,'
      .. '"snr":"12.34","rssi":"-110.00","station":"1A2B","avgSnr":"20.1",'
      .. '"lat":"43","lng":"1","deviceTypeId":"5f0f0f0f0f0f0f0f0f0f0f0f","duplicate":false}'
end

function request()
   local round = math.floor(n / devices)
   local body = string.format(template, device_base + n % devices, time0 + round, round % 4096)
   n = n + 1
   return prefix .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'LORAFOX_WRK {"duration_us":%d,"requests":%d,"bytes":%d,'
         .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,'
         .. '"status_errors":%d,"timeouts":%d,'
         .. '"latency_p50_us":%d,"latency_p99_us":%d,"latency_max_us":%d}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end

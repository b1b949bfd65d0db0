-- wrk script for bench/uplink.py: POST a unique Sigfox uplink callback per request.
--
--   wrk -t1 -c64 -d10s -s bench/uplink.lua \
--       -H 'Authorization: Basic ...' -H 'Content-Type: application/json' \
--       http://127.0.0.1:PORT -- /sigfox/uplink TIME0 DEVICE_BASE_HEX DEVICES [STATIONS]
--
-- Message m of thread k (k = 0, 1, ...) is for device DEVICE_BASE + m % DEVICES, with
-- time = TIME0 + k * 100000000 + floor(m / DEVICES) and seqNumber = floor(m / DEVICES) % 4096,
-- so no two messages carry the same (device, seqNumber, time).
-- With STATIONS = 1 (the default) request n is message n, and none is a duplicate.
-- With STATIONS = s > 1, a duplicate-station storm: request n is message floor(n / s) as heard
-- by station n % s, each station with its own id, snr and rssi; the first station's callback
-- says "duplicate":false, the others' "duplicate":true (what the Sigfox Back-End sends).
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
local stations
local storm_template
local n = 0

function init(args)
   local path = args[1] or "/sigfox/uplink"
   time0 = tonumber(args[2] or "1700000000") + (thread_index or 0) * 100000000
   device_base = tonumber(args[3] or "10000000", 16)
   devices = tonumber(args[4] or "10000")
   stations = tonumber(args[5] or "1")
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
   storm_template = '{"device":"%X","time":%d,"seqNumber":%d,'
      .. '"data":"0102030405060708090a0b0c","ack":false,"longPolling":false,'
      .. '"snr":"%d.25","rssi":"-%d.00","station":"%X","avgSnr":"20.1",'
      .. '"lat":"43","lng":"1","deviceTypeId":"5f0f0f0f0f0f0f0f0f0f0f0f","duplicate":%s}'
end

function request()
   local body
   if stations == 1 then
      local round = math.floor(n / devices)
      body = string.format(template, device_base + n % devices, time0 + round, round % 4096)
   else
      local m = math.floor(n / stations)
      local station = n % stations
      local round = math.floor(m / devices)
      body = string.format(storm_template, device_base + m % devices, time0 + round,
         round % 4096, 12 - 3 * station, 110 + 7 * station, 0x1A2B + station,
         station == 0 and "false" or "true")
   end
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

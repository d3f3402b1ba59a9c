-- GET /features/customer/<id> with ids drawn from Zipf(ZIPF_S) over 1..ZIPF_N (bench/scale.sh):
-- id k with probability proportional to k^-s, as a real key space is read (a few hot
-- customers, a long tail). The cumulative weights are built once per wrk thread; each request
-- draws by binary search.
local n = tonumber(os.getenv("ZIPF_N") or "1000000")
local s = tonumber(os.getenv("ZIPF_S") or "1.1")
local cumulative = {}
local total = 0
for k = 1, n do
  total = total + k ^ (-s)
  cumulative[k] = total
end
math.randomseed(os.time())

local function draw()
  local u = math.random() * total
  local low, high = 1, n
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cumulative[middle] < u then low = middle + 1 else high = middle end
  end
  return low
end

request = function()
  return wrk.format("GET", "/features/customer/" .. draw())
end

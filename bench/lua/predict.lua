-- POST /predict with random customer, account and merchant ids and transaction fields
-- (bench/predict.sh, bench/ab.sh).
math.randomseed(os.time())
local categories = {"grocery", "restaurants", "fuel", "electronics", "travel", "crypto", "wire_transfer"}
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{"transaction_id":"tx-%d","customer_id":%d,"account_id":%d,"merchant_id":%d,"amount":%.2f,' ..
    '"merchant_category":"%s","device_known":%s,"location_match":%s,"transactions_last_hour":%d}',
    counter, math.random(1, 5000), math.random(1, 6000), math.random(1, 800), math.random() * 500,
    categories[math.random(1, #categories)], tostring(math.random() > 0.1), tostring(math.random() > 0.1),
    math.random(0, 6))
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, body)
end

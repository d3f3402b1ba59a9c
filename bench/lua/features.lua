-- GET /features/customer/<random id in 1..5000> (bench/features.sh, bench/ab.sh).
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/features/customer/" .. math.random(1, 5000))
end

-- POST /get-online-features: 100 entities (random cards of the 200 in Tests/feast/fixture_repo.py)
-- x the same 8 features as feast_one.lua (bench/feast.sh).
math.randomseed(os.time())
local features = '"card_stats:amt_avg_7d","card_stats:amt_std_7d","card_stats:txn_count_7d",'
  .. '"card_stats:declines_24h","card_stats:is_flagged","card_stats:last_seen","card_stats:country",'
  .. '"card_stats:recent_amounts"'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local ids = {}
  for i = 1, 100 do ids[i] = math.random(1, 200) end
  return wrk.format(nil, "/get-online-features", nil,
    '{"features":[' .. features .. '],"entities":{"card_id":[' .. table.concat(ids, ",") .. ']}}')
end

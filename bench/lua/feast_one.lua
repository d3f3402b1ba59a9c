-- POST /get-online-features: 1 entity (a random card of the 200 in Tests/feast/fixture_repo.py) x 8
-- features of one view (bench/feast.sh).
math.randomseed(os.time())
local features = '"card_stats:amt_avg_7d","card_stats:amt_std_7d","card_stats:txn_count_7d",'
  .. '"card_stats:declines_24h","card_stats:is_flagged","card_stats:last_seen","card_stats:country",'
  .. '"card_stats:recent_amounts"'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, "/get-online-features", nil,
    '{"features":[' .. features .. '],"entities":{"card_id":[' .. math.random(1, 200) .. ']}}')
end

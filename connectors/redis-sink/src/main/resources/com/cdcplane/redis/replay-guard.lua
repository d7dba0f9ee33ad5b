-- Prepended by RedisWrites to both write scripts: the replay guard.
-- KEYS[2], when given, is a hash holding for each Redis key the position '<partition>:<offset>:<timestamp>:<topic>'
-- of the newest record the key has taken (written, refused as stale, or a tombstone), <timestamp> being the
-- largest record timestamp it has seen ('-' when records carry none). Records of one Kafka key stay in one
-- partition, so a record of the same topic-partition at or before the stored offset, and not newer than anything
-- the key has seen, is one the key has already taken: a replay (the sink's offsets moved back, a redelivery after
-- a crash), never written again. A record of another topic or partition, or one at a lower offset but newer than
-- anything the key has seen (the topic was deleted and created again, its offsets starting over), is not a replay:
-- the window rule alone decides.
local function position(text)
  local p, o, ts, t = string.match(text, '^(%d+):(%d+):([%d-]+):(.*)$')
  return p, tonumber(o), tonumber(ts), t
end

-- The key's stored position, or nil (no guard, or the key has none).
local function stored_position()
  if #KEYS < 2 then
    return nil
  end
  return redis.call('HGET', KEYS[2], KEYS[1]) or nil -- Redis hands a missing field to Lua as false
end

local function replayed(stored, pos)
  if not stored then
    return false
  end
  local sp, so, sts, st = position(stored)
  local ip, io, its, it = position(pos)
  if so == nil or io == nil or sp ~= ip or st ~= it or io > so then
    return false
  end
  return its == nil or sts == nil or its <= sts
end

local function remember(stored, pos)
  if #KEYS < 2 then
    return
  end
  local ip, io, its, it = position(pos)
  if stored and its ~= nil then
    local _, _, sts, _ = position(stored)
    if sts ~= nil and sts > its then
      its = sts -- keep the largest timestamp the key has seen
    end
  end
  redis.call('HSET', KEYS[2], KEYS[1], ip .. ':' .. string.format('%d', io) .. ':'
    .. (its == nil and '-' or string.format('%d', its)) .. ':' .. it)
end


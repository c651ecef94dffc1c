package chapters

// Knob values the chapter text tests build fact names from.
var (
	CacheTTLs     = cacheTTLs
	CacheMemories = cacheMemories
	CacheKeyDists = cacheKeyDists
)

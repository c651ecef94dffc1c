// Package engine is the core of the live system: the lab clock, metrics and
// the event log, machine sizes and capacity, links and partitions, the one
// node lifecycle, the system with its actions, knobs and snapshots, and the
// load generator. It imports no component: each component (engine/lb,
// engine/sqldb, …) imports the core, owns its roles, event kinds and
// action kinds, and registers handlers for the actions the core does not
// know.
//
// What the engine says to the learner (an event's detail, a node's detail,
// its inspector lines) is a Text: English with a key, so the lab can say
// it in the learner's language from assets/ui (text.<key>). A test holds
// every key the source uses to have text in every language.
package engine

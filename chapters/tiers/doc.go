// Package tiers is chapter 1: one server doing web and data work, split into
// a web tier and a data tier; SQL joins against a denormalised key-value
// store on the same data.
package tiers

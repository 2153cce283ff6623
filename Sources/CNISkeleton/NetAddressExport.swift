// Results, configs and CNI_ARGS are written in these types, so every user of CNISkeleton
// sees them without a second import.
@_exported import NetAddress

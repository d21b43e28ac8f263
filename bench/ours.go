package bench

// Ours are chain's layers, each alone, and the standard stack; they are
// filled in as the packages land.
var Ours = []Contender{}

// OursStandard is the standard stack with tracing off.
var OursStandard = Contender{}

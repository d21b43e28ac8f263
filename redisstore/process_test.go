package redisstore_test

// childEnv marks a re-executed test binary as a member of TestProcesses.
const childEnv = "REDISSTORE_FLEET_CHILD"

"""The controlled-substance ledger (ketamine, Schedule III): every milligram, provably."""

observable x = y + 1
observable y = 2 * x

train t {
  steps = 

use mymodule

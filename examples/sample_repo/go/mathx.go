package mathx

import "errors"

// Fibonacci returns the n-th Fibonacci number, iteratively.
func Fibonacci(n int) (int, error) {
	if n < 0 {
		return 0, errors.New("n must not be negative")
	}
	a, b := 0, 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a, nil
}

// Clamp limits v to the closed range [lo, hi].
func Clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// SumSquares adds the squares of all the values.
func SumSquares(values []int) int {
	total := 0
	for _, v := range values {
		total += v * v
	}
	return total
}

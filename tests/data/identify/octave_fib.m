1;
function r = fib(n)
  % Fibonacci numbers, Octave style
  if n <= 1
    r = n;
  else
    r = fib(n - 1) + fib(n - 2);
  endif
endfunction

for i = 1:10
  printf("%d\n", fib(i));
endfor

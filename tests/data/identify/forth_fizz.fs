: FIZZ? ( n -- f )  3 MOD 0= DUP IF ." Fizz" THEN ;
: BUZZ? ( n -- f )  5 MOD 0= DUP IF ." Buzz" THEN ;
: FIZZBUZZ ( n -- )
  1+ 1 DO
    I FIZZ? I BUZZ? OR 0= IF I . THEN CR
  LOOP ;
100 FIZZBUZZ

( Simple stack words )
VARIABLE COUNTER
0 COUNTER !
: BUMP ( -- )  COUNTER @ 1+ COUNTER ! ;
: SHOW ( -- )  ." counter = " COUNTER @ . CR ;
: RUN  ( n -- )  0 ?DO BUMP LOOP SHOW ;
5 RUN

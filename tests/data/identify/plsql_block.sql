CREATE OR REPLACE PACKAGE BODY payroll AS
  PROCEDURE raise_salary(p_emp_id IN NUMBER, p_pct IN NUMBER) IS
  BEGIN
    UPDATE emp SET sal = sal * (1 + p_pct / 100) WHERE empno = p_emp_id;
    DBMS_OUTPUT.PUT_LINE('raised ' || p_emp_id);
  END raise_salary;
END payroll;
/

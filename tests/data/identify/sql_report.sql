SELECT department, COUNT(*) AS staff, AVG(salary) AS mean_salary
FROM employees
WHERE hired_at >= '2020-01-01'
GROUP BY department
HAVING COUNT(*) > 5;

UPDATE employees SET salary = salary * 1.03 WHERE rating >= 4;

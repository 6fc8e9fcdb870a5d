-- The statement that creates database $1 (an identifier cannot be a parameter; %I quotes it).
SELECT format('CREATE DATABASE %I', $1::text)

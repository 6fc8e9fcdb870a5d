CREATE TEMP TABLE staging (id int8, last_city text, age int2, user_persona text, custom_fields jsonb)

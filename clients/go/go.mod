module example.com/signoff

go 1.19

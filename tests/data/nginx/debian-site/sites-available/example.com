# example.com, enabled with: ln -s ../sites-available/example.com ../sites-enabled/
server {
	listen 80;
	listen [::]:80;

	server_name example.com www.example.com;

	root /var/www/example.com;
	index index.html;

	location / {
		try_files $uri $uri/ =404;
	}

	# PHP through php-fpm
	location ~ \.php$ {
		include snippets/fastcgi-php.conf;
		fastcgi_pass unix:/run/php/php8.2-fpm.sock;
	}
}

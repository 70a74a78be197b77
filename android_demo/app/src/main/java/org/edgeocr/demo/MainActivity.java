package org.edgeocr.demo;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.graphics.Path;
import android.net.Uri;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import android.provider.MediaStore;
import android.widget.ArrayAdapter;
import android.widget.CheckBox;
import android.widget.ImageView;
import android.widget.Spinner;
import android.widget.TextView;

import androidx.core.content.FileProvider;

import java.io.File;
import java.io.InputStream;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** Pick or take a photo, run OCR off the UI thread, draw the boxes and list the texts with scores and timings. */
public class MainActivity extends Activity {
    private static final int PICK = 1, PHOTO = 2;
    private static final Integer[] THREADS = {1, 2, 4};
    // Paddle Lite's PowerMode: LITE_POWER_HIGH (big cores), LOW (little cores), FULL (all), NO_BIND.
    private static final String[] POWER_MODES = {"0 HIGH", "1 LOW", "2 FULL", "3 NO_BIND"};

    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private final Handler ui = new Handler(Looper.getMainLooper());
    private OcrEngine engine;
    private String engineKey = "";
    private File bundleDir, photoFile;
    private Spinner threads, powerMode;
    private CheckBox useCls;
    private TextView status, lines;
    private ImageView image;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        setContentView(R.layout.activity_main);
        threads = findViewById(R.id.threads);
        powerMode = findViewById(R.id.power_mode);
        useCls = findViewById(R.id.use_cls);
        status = findViewById(R.id.status);
        lines = findViewById(R.id.lines);
        image = findViewById(R.id.image);
        threads.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_spinner_dropdown_item, THREADS));
        threads.setSelection(1);
        powerMode.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_spinner_dropdown_item, POWER_MODES));
        findViewById(R.id.pick).setOnClickListener(v -> {
            Intent intent = new Intent(Intent.ACTION_GET_CONTENT).setType("image/*");
            startActivityForResult(intent, PICK);
        });
        findViewById(R.id.photo).setOnClickListener(v -> takePhoto());
        status.setText("Loading the bundle…");
        worker.execute(() -> {
            try {
                bundleDir = OcrEngine.installBundle(getAssets(), getFilesDir());
                ui.post(() -> status.setText("Ready: pick an image or take a photo"));
            } catch (Exception e) {
                ui.post(() -> status.setText("Error: " + e.getMessage()));
            }
        });
    }

    private void takePhoto() {
        File dir = new File(getCacheDir(), "photos");
        if (!dir.isDirectory() && !dir.mkdirs()) {
            status.setText("Error: cannot create " + dir);
            return;
        }
        photoFile = new File(dir, "photo.jpg");
        Uri uri = FileProvider.getUriForFile(this, "org.edgeocr.demo.files", photoFile);
        Intent intent = new Intent(MediaStore.ACTION_IMAGE_CAPTURE).putExtra(MediaStore.EXTRA_OUTPUT, uri)
                .addFlags(Intent.FLAG_GRANT_WRITE_URI_PERMISSION);
        startActivityForResult(intent, PHOTO);
    }

    @Override
    protected void onActivityResult(int request, int result, Intent data) {
        super.onActivityResult(request, result, data);
        if (result != RESULT_OK) return;
        Uri uri = request == PICK && data != null ? data.getData() : Uri.fromFile(photoFile);
        if (uri != null) recognize(uri);
    }

    private void recognize(Uri uri) {
        final int threadCount = (Integer) threads.getSelectedItem();
        final int power = powerMode.getSelectedItemPosition();
        final boolean cls = useCls.isChecked();
        status.setText("Running…");
        worker.execute(() -> {
            try {
                Bitmap bitmap;
                try (InputStream in = getContentResolver().openInputStream(uri)) {
                    bitmap = BitmapFactory.decodeStream(in);
                }
                if (bitmap == null) throw new IllegalArgumentException("not an image: " + uri);
                String key = threadCount + "/" + power + "/" + cls;
                if (engine == null || !key.equals(engineKey)) {  // settings changed: rebuild the predictors
                    if (engine != null) engine.close();
                    if (bundleDir == null) throw new IllegalStateException("the bundle is not installed");
                    engine = new OcrEngine(bundleDir.getPath(), threadCount, power, cls, false);
                    engineKey = key;
                }
                OcrEngine.Result ocr = engine.run(bitmap);
                Bitmap drawn = draw(bitmap, ocr);
                String text = describe(ocr);
                ui.post(() -> {
                    image.setImageBitmap(drawn);
                    lines.setText(text);
                    status.setText(String.format(Locale.US, "%d lines · det %.0f ms · cls %.0f ms · rec %.0f ms · "
                            + "total %.0f ms", ocr.lines.size(), ocr.detMs, ocr.clsMs, ocr.recMs, ocr.totalMs));
                });
            } catch (Exception e) {
                ui.post(() -> status.setText("Error: " + e.getMessage()));
            }
        });
    }

    private static Bitmap draw(Bitmap source, OcrEngine.Result ocr) {
        Bitmap out = source.copy(Bitmap.Config.ARGB_8888, true);
        Canvas canvas = new Canvas(out);
        Paint paint = new Paint(Paint.ANTI_ALIAS_FLAG);
        paint.setStyle(Paint.Style.STROKE);
        paint.setColor(Color.rgb(0, 200, 0));
        paint.setStrokeWidth(Math.max(2f, out.getWidth() / 400f));
        for (OcrEngine.Line line : ocr.lines) {
            Path path = new Path();
            path.moveTo(line.box[0], line.box[1]);
            for (int p = 1; p < 4; p++) path.lineTo(line.box[2 * p], line.box[2 * p + 1]);
            path.close();
            canvas.drawPath(path, paint);
        }
        return out;
    }

    private static String describe(OcrEngine.Result ocr) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < ocr.lines.size(); i++) {
            OcrEngine.Line line = ocr.lines.get(i);
            text.append(String.format(Locale.US, "%d. %s  (%.3f)\n", i + 1, line.text, line.score));
        }
        return text.toString();
    }

    @Override
    protected void onDestroy() {
        worker.execute(() -> {
            if (engine != null) engine.close();
        });
        worker.shutdown();
        super.onDestroy();
    }
}
